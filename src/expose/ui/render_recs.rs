//! The status page's recommendations section: the open ones with their estimated monthly
//! savings, each linking to its JSON in `/api/v1/recommendations`.

use super::render::{esc, more_line};
use super::view::Recommendations;
use std::fmt::Write;

pub(super) fn recommendations(o: &mut String, r: &Recommendations) {
    o.push_str("<section id=\"recommendations-section\"><h2>Recommendations</h2>\n");
    match r {
        Recommendations::Off => o.push_str(
            "<p class=\"empty\" id=\"recommendations\">Recommendations are off \
             (<code>recommendations.enabled: false</code>).</p>",
        ),
        Recommendations::Failed(e) => {
            let _ = write!(
                o,
                "<p class=\"fail\" id=\"recommendations\">Recommendations could not be computed: \
                 {}</p>",
                esc(e)
            );
        }
        Recommendations::Open(rows) if rows.rows.is_empty() => {
            o.push_str("<p class=\"empty\" id=\"recommendations\">No open recommendations.</p>")
        }
        Recommendations::Open(rows) => {
            o.push_str(
                "<p class=\"muted\">From the usage ledger over <code>recommendations.window</code>; \
                 dismiss or mark one implemented with <code>PATCH \
                 /api/v1/admin/recommendations/{id}</code>. <a \
                 href=\"/api/v1/recommendations\">JSON with evidence</a></p>\
                 <table id=\"recommendations\"><thead><tr><th>priority</th><th>type</th>\
                 <th>recommendation</th><th class=\"n\">est. USD / month</th><th>id</th></tr>\
                 </thead><tbody>",
            );
            for r in &rows.rows {
                let _ = write!(
                    o,
                    "<tr data-id=\"{}\"><td class=\"{}\">{}</td><td>{}</td><td><strong>{}\
                     </strong><br><span class=\"muted\">{}</span></td><td class=\"n\" \
                     data-field=\"savings\">{}</td><td><code>{}</code></td></tr>",
                    esc(&r.id),
                    if r.priority == "high" {
                        "warning"
                    } else {
                        "muted"
                    },
                    esc(&r.priority),
                    esc(&r.kind),
                    esc(&r.title),
                    esc(&r.description),
                    esc(&r.savings),
                    esc(&r.id),
                );
            }
            o.push_str("</tbody></table>");
            more_line(o, "recommendations", rows.more, "recommendations");
        }
    }
    o.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::super::view::{Capped, RecommendationRow};
    use super::*;

    #[test]
    fn open_recommendations_show_their_exact_saving_escaped() {
        let row = |id: &str, title: &str| RecommendationRow {
            id: id.into(),
            kind: "downgrade_model".into(),
            priority: "high".into(),
            title: title.into(),
            description: "d".into(),
            savings: "40.608".into(),
        };
        let mut o = String::new();
        recommendations(
            &mut o,
            &Recommendations::Open(Capped::of(
                vec![row("rec_1", "Move <b>x</b>"), row("rec_2", "y")],
                1,
            )),
        );
        assert!(o.contains("data-id=\"rec_1\""), "{o}");
        assert!(o.contains("data-field=\"savings\">40.608</td>"), "{o}");
        assert!(
            o.contains("Move &lt;b&gt;x&lt;/b&gt;") && !o.contains("<b>x"),
            "{o}"
        );
        assert!(
            !o.contains("rec_2\"") && o.contains("data-count=\"1\""),
            "{o}"
        );
        let mut o = String::new();
        recommendations(&mut o, &Recommendations::Open(Capped::default()));
        assert!(o.contains("No open recommendations"));
        let mut o = String::new();
        recommendations(&mut o, &Recommendations::Failed("<x>".into()));
        assert!(o.contains("&lt;x&gt;"));
    }
}
