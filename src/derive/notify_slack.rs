//! A budget notice as a Slack incoming-webhook message: `text` (the notification and fallback
//! line) and `blocks` (a header, the figures as fields, severity, and a link to the agent's
//! status page when `notifications.ui_url` is set). Pure.

use super::notify::{Kind, Notice};
use crate::config::notifications::Severity;
use crate::model::money::format_usd;
use serde_json::{json, Value};

/// Slack's mrkdwn control characters, escaped as its docs ask (`&`, `<`, `>`).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Slack refuses a whole message whose block texts pass its limits (header 150 characters,
/// field 2,000, section 3,000), so long budget names or group values are cut with an ellipsis.
fn clip(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn usd(nanos: u64) -> String {
    format!("{} USD", format_usd(u128::from(nanos) * 1_000_000))
}

pub fn slack_body(n: &Notice, ui_url: Option<&str>) -> Value {
    let m = &n.mark;
    let severity = n.severity;
    let pct = n.threshold() * 100.0;
    let group: Vec<String> = m.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let who = if group.is_empty() {
        m.budget.clone()
    } else {
        format!("{} ({})", m.budget, group.join(", "))
    };
    let utilization = if n.limit_nanos == 0 {
        "-".to_string()
    } else {
        format!(
            "{:.1}%",
            n.spend_nanos as f64 * 100.0 / n.limit_nanos as f64
        )
    };
    let (icon, text) = match n.kind {
        Kind::Crossed => (
            match severity {
                Severity::Exceeded => ":rotating_light:",
                Severity::Critical => ":red_circle:",
                Severity::Warning => ":warning:",
            },
            format!(
                "meterd: budget {who} crossed {pct:.0}% of its limit ({} of {}, {})",
                usd(n.spend_nanos),
                usd(n.limit_nanos),
                n.period
            ),
        ),
        Kind::Reset => (
            ":white_check_mark:",
            format!(
                "meterd: budget {who} is back under {pct:.0}% of its limit (period or spend reset)"
            ),
        ),
    };
    // Rolling and `total` budgets (no period start) have no period end to forecast to.
    let forecast = if n.forecast_nanos > 0 && m.period_start > 0 {
        format!("{} by the period end", usd(n.forecast_nanos))
    } else {
        "-".into()
    };
    let field = |name: &str, value: &str| json!({"type": "mrkdwn", "text": clip(format!("*{name}*\n{}", escape(value)), 2000)});
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "emoji": true,
            "text": clip(format!("{icon} Budget {} at {pct:.0}%", m.budget), 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(escape(&text), 3000)}}),
        json!({"type": "section", "fields": [
            field("Budget", &who),
            field("Spend", &usd(n.spend_nanos)),
            field("Limit", &usd(n.limit_nanos)),
            field("Forecast", &forecast),
            field("Utilization", &utilization),
            field("Period", n.period),
        ]}),
        json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": format!("severity *{}* · threshold {pct:.0}% · {}", severity.as_str(),
                match n.kind { Kind::Crossed => "crossed", Kind::Reset => "reset" })}]}),
    ];
    if let Some(url) = ui_url {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": clip(format!("<{}|Open the meterd status page>", escape(url)), 3000)}}));
    }
    json!({"text": text, "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::notify::Mark;

    fn notice(kind: Kind, threshold_ppm: u64, budget: &str) -> Notice {
        Notice {
            kind,
            mark: Mark {
                budget: budget.into(),
                group: vec![("team".into(), "search".into())],
                period_start: 1_796_552_400,
                threshold_ppm,
            },
            period: "monthly",
            spend_nanos: 1_020_000_000,
            limit_nanos: 1_000_000_000,
            forecast_nanos: 3_100_000_000,
            severity: if threshold_ppm >= 1_000_000 {
                Severity::Exceeded
            } else {
                Severity::Warning
            },
        }
    }

    #[test]
    fn an_exceeded_budget_reads_well_in_slack() {
        let v = slack_body(
            &notice(Kind::Crossed, 1_000_000, "search"),
            Some("https://meterd.example/ui"),
        );
        assert_eq!(
            v["text"],
            "meterd: budget search (team=search) crossed 100% of its limit (1.02 USD of 1.00 USD, monthly)"
        );
        let blocks = v["blocks"].as_array().expect("blocks");
        assert_eq!(blocks[0]["type"], "header");
        assert!(blocks[0]["text"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with(":rotating_light: Budget search at 100%")));
        let fields: Vec<&str> = blocks[2]["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["text"].as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "*Budget*\nsearch (team=search)",
                "*Spend*\n1.02 USD",
                "*Limit*\n1.00 USD",
                "*Forecast*\n3.10 USD by the period end",
                "*Utilization*\n102.0%",
                "*Period*\nmonthly",
            ]
        );
        assert!(blocks[3]["elements"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("severity *exceeded*")));
        assert_eq!(
            blocks[4]["text"]["text"],
            "<https://meterd.example/ui|Open the meterd status page>"
        );
    }

    #[test]
    fn names_are_escaped_and_no_link_without_a_ui_url() {
        let v = slack_body(&notice(Kind::Reset, 500_000, "a<b>&c"), None);
        assert!(v["text"]
            .as_str()
            .is_some_and(|t| t.contains("back under 50%")));
        let blocks = v["blocks"].as_array().expect("blocks");
        assert_eq!(blocks.len(), 4);
        assert!(blocks[2]["fields"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("a&lt;b&gt;&amp;c")));
        assert!(blocks[1]["text"]["text"]
            .as_str()
            .is_some_and(|t| !t.contains('<')));
    }

    #[test]
    fn long_names_are_cut_to_slacks_block_limits() {
        let long = "é".repeat(5000);
        let mut n = notice(Kind::Crossed, 900_000, &long);
        n.mark.group = vec![("team".into(), "<".repeat(3000))];
        let v = slack_body(&n, None);
        let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        let blocks = v["blocks"].as_array().expect("blocks");
        assert_eq!(len(&blocks[0]["text"]["text"]), 150);
        assert!(len(&blocks[1]["text"]["text"]) <= 3000);
        assert!(blocks[2]["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .all(|f| len(&f["text"]) <= 2000));
    }
}
