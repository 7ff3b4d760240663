//! Exposition: Prometheus text format 0.0.4 and OpenMetrics 1.0 from a store snapshot. Pure.
//!
//! The two differ in ways scrapers check: OpenMetrics names a counter family without `_total` in
//! `# TYPE`, escapes `"` in HELP, carries exemplars, writes `le`/`quantile` canonically (`1.0`), and
//! ends with `# EOF`. Text 0.0.4 names the counter family by its sample name (`foo_total`).

use crate::model::{Exemplar, Labels, MetricKind};
use crate::store::{FamilySnapshot, SeriesValue};
use std::fmt::Write;
use std::sync::Arc;

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

/// The sample names of one family, built once per family rather than once per series.
struct SampleNames {
    type_name: String,
    sample: String,
    bucket: String,
    sum: String,
    count: String,
}

impl SampleNames {
    fn new(fam: &FamilySnapshot, om: bool) -> Self {
        let base: &str = fam.name.strip_suffix("_total").unwrap_or(&fam.name);
        let (type_name, sample) = match fam.kind {
            MetricKind::Counter if om => (base.to_owned(), format!("{base}_total")),
            MetricKind::Counter => (format!("{base}_total"), format!("{base}_total")),
            _ => (fam.name.to_string(), fam.name.to_string()),
        };
        SampleNames {
            bucket: format!("{sample}_bucket"),
            sum: format!("{sample}_sum"),
            count: format!("{sample}_count"),
            type_name,
            sample,
        }
    }
}

/// `le` texts of the bucket bounds a family's histograms share: formatted once per distinct bounds
/// (one `Arc` per family in practice), not once per bucket line.
#[derive(Default)]
struct BoundTexts {
    bounds: Option<Arc<[f64]>>,
    texts: Vec<String>,
}

impl BoundTexts {
    fn get(&mut self, bounds: &Arc<[f64]>, om: bool) -> &[String] {
        if !self.bounds.as_ref().is_some_and(|b| Arc::ptr_eq(b, bounds)) {
            self.texts = bounds.iter().map(|b| fmt_bound(*b, om)).collect();
            self.texts.push("+Inf".to_owned());
            self.bounds = Some(bounds.clone());
        }
        &self.texts
    }
}

fn render_family(out: &mut String, fam: &FamilySnapshot, format: Format) {
    let om = format == Format::OpenMetrics;
    let names = SampleNames::new(fam, om);
    if let Some(help) = &fam.help {
        let _ = writeln!(out, "# HELP {} {}", names.type_name, escape_help(help, om));
    }
    let _ = writeln!(out, "# TYPE {} {}", names.type_name, fam.kind.as_str());
    // A series' label text is escaped once and reused by each of its lines (a histogram has
    // one line per bucket plus sum and count).
    let mut label_text = String::new();
    let mut bound_texts = BoundTexts::default();
    for (labels, snap) in &fam.series {
        label_text.clear();
        write_label_pairs(&mut label_text, labels);
        let labels = label_text.as_str();
        match &snap.value {
            SeriesValue::Counter(v) | SeriesValue::Gauge(v) => {
                write_sample(out, &names.sample, labels, None, *v);
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
                // The exemplar belongs to the first bucket whose bound holds its value.
                let ex_idx = snap
                    .exemplar
                    .as_ref()
                    .filter(|_| om)
                    .map(|e| bounds.partition_point(|b| *b < e.value));
                let les = bound_texts.get(bounds, om);
                for (i, (c, le)) in cumulative.iter().zip(les).enumerate() {
                    write_sample(out, &names.bucket, labels, Some(("le", le)), *c);
                    if ex_idx == Some(i) {
                        if let Some(e) = &snap.exemplar {
                            out.pop();
                            write_exemplar(out, e);
                        }
                    }
                }
                write_sample(out, &names.sum, labels, None, *sum);
                write_sample(out, &names.count, labels, None, *count);
            }
            SeriesValue::Summary(s) => {
                for (q, v) in &s.quantiles {
                    let q = fmt_bound(*q, om);
                    write_sample(out, &names.sample, labels, Some(("quantile", &q)), *v);
                }
                write_sample(out, &names.sum, labels, None, s.sum);
                write_sample(out, &names.count, labels, None, s.count as f64);
            }
        }
    }
}

/// One sample line; `labels` is the series' pre-escaped `k="v",...` text (empty for none).
fn write_sample(out: &mut String, name: &str, labels: &str, extra: Option<(&str, &str)>, v: f64) {
    out.push_str(name);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        out.push_str(labels);
        if let Some((k, val)) = extra {
            if !labels.is_empty() {
                out.push(',');
            }
            push_pair(out, k, val);
        }
        out.push('}');
    }
    out.push(' ');
    push_float(out, v);
    out.push('\n');
}

fn write_label_pairs(out: &mut String, labels: &Labels) {
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_pair(out, k, v);
    }
}

fn push_pair(out: &mut String, k: &str, v: &str) {
    out.push_str(k);
    out.push_str("=\"");
    escape_label_value(out, v);
    out.push('"');
}

fn write_exemplar(out: &mut String, e: &Exemplar) {
    out.push_str(" # ");
    out.push('{');
    write_label_pairs(out, &e.labels);
    out.push('}');
    out.push(' ');
    push_float(out, e.value);
    if let Some(ts) = e.timestamp {
        let _ = write!(out, " {ts:.3}");
    }
    out.push('\n');
}

fn escape_label_value(out: &mut String, v: &str) {
    // Almost every value needs no escaping: copy it whole instead of char by char.
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        return;
    }
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
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(v));
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
