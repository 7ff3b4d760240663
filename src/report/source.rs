//! Where `meterd report` reads the ledger: a state file no agent has open (read-only), or a
//! running agent's `/api/v1/usage` (hour rows grouped by every dimension, so the report
//! regroups them exactly as the agent would) and `/metrics` (quality and outcome counters).

use super::Quality;
use crate::config::fleet::Target;
use crate::derive::ledger::row::{self, Gran, Key, Totals, QUANTITY_NAMES};
use crate::derive::ledger::{clock, decode_rows};
use crate::derive::pricing::Amount;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub type Rows = Vec<(Key, Totals)>;

/// Hour rows starting in `[from, to)` from a state file (or the data directory holding it).
pub fn from_state(path: &Path, from: i64, to: i64) -> Result<Rows, String> {
    let file = if path.is_dir() {
        path.join(crate::state::FILE_NAME)
    } else {
        path.to_path_buf()
    };
    let records = crate::state::usage::read_offline(
        &file,
        &row::range_bound(Gran::Hour, from),
        &row::range_bound(Gran::Hour, to),
        crate::state::usage::MAX_READ_ROWS,
    )
    .map_err(|e| {
        if e.contains("already open") || e.contains("lock") {
            format!("{e} (an agent is running on it: use --url to ask it instead)")
        } else {
            e
        }
    })?;
    let mut decoded = Vec::with_capacity(records.len());
    for (k, v) in records {
        let t = Totals::decode(&v).map_err(|e| format!("{}: usage row: {e}", file.display()))?;
        decoded.push((k, t));
    }
    let (rows, bad) = decode_rows(decoded);
    if bad > 0 {
        return Err(format!(
            "{}: {bad} unreadable usage row keys",
            file.display()
        ));
    }
    Ok(rows)
}

const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_BODY: usize = 512 << 20;

async fn get(target: &Target, path: &str, token: Option<&str>) -> Result<Vec<u8>, String> {
    let full = format!("{}{path}", target.prefix);
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let (status, body) = crate::net::client::request(
        target,
        http::Method::GET,
        &full,
        &headers,
        None,
        MAX_BODY,
        TIMEOUT,
    )
    .await
    .map_err(|e| format!("GET {full}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "GET {full}: HTTP {status}: {}",
            String::from_utf8_lossy(&body).trim()
        ));
    }
    Ok(body.to_vec())
}

fn femto(text: &str) -> Result<u128, String> {
    let v = Amount::new(text).scaled()?;
    u128::try_from(v).map_err(|_| format!("negative cost {text:?}"))
}

/// Parses `/api/v1/usage` rows grouped by `hour,provider,model,<scope labels>` back to rows.
pub fn parse_usage(body: &[u8], scope_labels: &[String]) -> Result<Rows, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("usage answer is not JSON: {e}"))?;
    let rows = v["rows"].as_array().ok_or("usage answer has no rows")?;
    let text = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or_default().to_string();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let hour = text(r, "hour");
        let start = hour
            .parse::<jiff::Timestamp>()
            .map_err(|e| format!("row hour {hour:?}: {e}"))?
            .as_second();
        let mut labels: Vec<(String, String)> = scope_labels
            .iter()
            .map(|l| (l.clone(), text(r, l)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        labels.sort();
        let mut quantities = [0u64; 11];
        for (q, name) in quantities.iter_mut().zip(QUANTITY_NAMES) {
            *q = r[name].as_u64().unwrap_or(0);
        }
        let totals = Totals {
            requests: r["requests"].as_u64().unwrap_or(0),
            errors: r["errors"].as_u64().unwrap_or(0),
            quantities,
            cost_femto: femto(r["cost_usd_exact"].as_str().unwrap_or("0"))?,
        };
        let key = Key {
            gran: Gran::Hour,
            start,
            provider: text(r, "provider"),
            model: text(r, "model"),
            labels,
        };
        out.push((key, totals));
    }
    Ok(out)
}

/// The label pairs and value of one exposition line (`name{a="b",...} value`), if it is `name`.
fn series(line: &str, name: &str) -> Option<(BTreeMap<String, String>, f64)> {
    let rest = line.strip_prefix(name)?;
    let (labels, value) = match rest.strip_prefix('{') {
        Some(r) => {
            let end = r.rfind('}')?;
            (&r[..end], r[end + 1..].trim())
        }
        None if rest.starts_with(' ') => ("", rest.trim()),
        None => return None,
    };
    let value: f64 = value.split_whitespace().next()?.parse().ok()?;
    let mut out = BTreeMap::new();
    let mut chars = labels.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let key = key.trim_start_matches(',').trim().to_string();
        if key.is_empty() || chars.next() != Some('"') {
            break;
        }
        let mut val = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => val.push('\n'),
                    Some(c) => val.push(c),
                    None => break,
                },
                '"' => break,
                c => val.push(c),
            }
        }
        out.insert(key, val);
    }
    Some((out, value))
}

/// Quality and outcome rates per model from a Prometheus text scrape.
pub fn parse_quality(text: &str) -> BTreeMap<String, Quality> {
    let mut out: BTreeMap<String, Quality> = BTreeMap::new();
    for line in text.lines() {
        if let Some((l, v)) = series(line, "llm_quality_grade_total") {
            let q = out
                .entry(l.get("model").cloned().unwrap_or_default())
                .or_default();
            q.graded += v;
            if matches!(
                l.get("grade").map(String::as_str),
                Some("good" | "excellent")
            ) {
                q.good += v;
            }
        } else if let Some((l, v)) = series(line, "llm_outcomes_total") {
            let q = out
                .entry(l.get("model").cloned().unwrap_or_default())
                .or_default();
            q.outcomes += v;
            if l.get("outcome").map(String::as_str) == Some("accepted") {
                q.accepted += v;
            }
        }
    }
    out
}

/// Hour rows in `[from, to)` and quality rates from a running agent.
pub fn from_api(
    url: &str,
    token: Option<&str>,
    scope_labels: &[String],
    from: i64,
    to: i64,
) -> Result<(Rows, BTreeMap<String, Quality>), String> {
    let target = Target::parse(url)?;
    let mut group_by = vec!["hour".to_string(), "provider".into(), "model".into()];
    group_by.extend(scope_labels.iter().cloned());
    let path = format!(
        "/api/v1/usage?from={from}&to={to}&group_by={}",
        group_by.join(",")
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    rt.block_on(async {
        let body = get(&target, &path, token).await?;
        let rows = parse_usage(&body, scope_labels)?;
        let metrics = get(&target, "/metrics", token).await?;
        Ok((rows, parse_quality(&String::from_utf8_lossy(&metrics))))
    })
}

/// The default range: this local month so far (to the end of today).
pub fn default_range(tz: &jiff::tz::TimeZone, now: i64) -> (i64, i64) {
    let today = clock::day_start(tz, now);
    let tomorrow = clock::day_start(tz, today + 36 * 3600);
    let first = crate::derive::budget::period::calendar_bounds(
        crate::derive::budget::period::Period::Monthly,
        tz,
        now,
    )
    .map_or(today, |(s, _)| s);
    (first, tomorrow)
}
