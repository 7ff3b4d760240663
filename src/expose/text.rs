//! Exposition: Prometheus text format 0.0.4 and OpenMetrics 1.0 from a store snapshot. Pure.
//!
//! The two differ in ways scrapers check: OpenMetrics names a counter family without `_total` in
//! `# TYPE`, escapes `"` in HELP, carries exemplars, writes `le`/`quantile` canonically (`1.0`), and
//! ends with `# EOF`. Text 0.0.4 names the counter family by its sample name (`foo_total`).

use crate::model::{Exemplar, Labels, MetricKind};
use crate::store::{FamilySnapshot, SeriesValue};
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Chooses by `Accept`, as Prometheus negotiates: OpenMetrics only when asked for.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }
}

pub fn render(families: &[FamilySnapshot], format: Format) -> String {
    let mut out = String::with_capacity(families.iter().map(|f| f.series.len() * 80 + 100).sum());
    for fam in families {
        render_family(&mut out, fam, format);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn render_family(out: &mut String, fam: &FamilySnapshot, format: Format) {
    let om = format == Format::OpenMetrics;
    let base: &str = fam.name.strip_suffix("_total").unwrap_or(&fam.name);
    let (type_name, sample_name) = match fam.kind {
        MetricKind::Counter if om => (base.to_owned(), format!("{base}_total")),
        MetricKind::Counter => (format!("{base}_total"), format!("{base}_total")),
        _ => (fam.name.to_string(), fam.name.to_string()),
    };
    if let Some(help) = &fam.help {
        let _ = writeln!(out, "# HELP {type_name} {}", escape_help(help, om));
    }
    let _ = writeln!(out, "# TYPE {type_name} {}", fam.kind.as_str());
    for (labels, snap) in &fam.series {
        match &snap.value {
            SeriesValue::Counter(v) | SeriesValue::Gauge(v) => {
                write_sample(out, &sample_name, labels, None, *v);
                if om {
                    if let Some(e) = &snap.exemplar {
                        out.pop();
                        write_exemplar(out, e);
                    }
                }
            }
            SeriesValue::Histogram {
                bounds,
                cumulative,
                sum,
                count,
            } => {
                let bucket = format!("{sample_name}_bucket");
                // The exemplar belongs to the first bucket whose bound holds its value.
                let ex_idx = snap
                    .exemplar
                    .as_ref()
                    .filter(|_| om)
                    .map(|e| bounds.partition_point(|b| *b < e.value));
                for (i, c) in cumulative.iter().enumerate() {
                    let le = match bounds.get(i) {
                        Some(b) => fmt_bound(*b, om),
                        None => "+Inf".to_owned(),
                    };
                    write_sample(out, &bucket, labels, Some(("le", &le)), *c);
                    if ex_idx == Some(i) {
                        if let Some(e) = &snap.exemplar {
                            out.pop();
                            write_exemplar(out, e);
                        }
                    }
                }
                write_sample(out, &format!("{sample_name}_sum"), labels, None, *sum);
                write_sample(out, &format!("{sample_name}_count"), labels, None, *count);
            }
            SeriesValue::Summary(s) => {
                for (q, v) in &s.quantiles {
                    let q = fmt_bound(*q, om);
                    write_sample(out, &sample_name, labels, Some(("quantile", &q)), *v);
                }
                write_sample(out, &format!("{sample_name}_sum"), labels, None, s.sum);
                write_sample(
                    out,
                    &format!("{sample_name}_count"),
                    labels,
                    None,
                    s.count as f64,
                );
            }
        }
    }
}

fn write_sample(
    out: &mut String,
    name: &str,
    labels: &Labels,
    extra: Option<(&str, &str)>,
    v: f64,
) {
    out.push_str(name);
    write_labels(out, labels, extra);
    out.push(' ');
    push_float(out, v);
    out.push('\n');
}

fn write_labels(out: &mut String, labels: &Labels, extra: Option<(&str, &str)>) {
    if labels.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in labels.iter().chain(extra) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        escape_label_value(out, v);
        out.push('"');
    }
    out.push('}');
}

fn write_exemplar(out: &mut String, e: &Exemplar) {
    out.push_str(" # ");
    let labels = if e.labels.is_empty() {
        "{}".to_owned()
    } else {
        let mut s = String::new();
        write_labels(&mut s, &e.labels, None);
        s
    };
    out.push_str(&labels);
    out.push(' ');
    push_float(out, e.value);
    if let Some(ts) = e.timestamp {
        let _ = write!(out, " {ts:.3}");
    }
    out.push('\n');
}

fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(help: &str, om: bool) -> String {
    let mut s = String::with_capacity(help.len());
    for c in help.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '"' if om => s.push_str("\\\""),
            c => s.push(c),
        }
    }
    s
}

/// Shortest text that parses back to the same float; integral values without a fraction.
pub fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v:?}");
    }
}

/// `le` and `quantile` values: OpenMetrics wants the canonical form with a fraction (`1.0`).
fn fmt_bound(b: f64, om: bool) -> String {
    let mut s = String::new();
    push_float(&mut s, b);
    if om && b.is_finite() && !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

#[cfg(test)]
mod tests;
