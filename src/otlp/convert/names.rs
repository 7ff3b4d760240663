//! OTel metric name and unit -> Prometheus name, per the "Prometheus and OpenMetrics
//! compatibility" spec: sanitize, append the unit as a suffix (`s` -> `_seconds`, `By` -> `_bytes`,
//! `{x}` annotations dropped, `a/b` -> `a_per_b`), `_ratio` for unit `1` gauges. Counters are
//! returned without `_total`: exposition appends it, and a trailing `total` in the OTel name is
//! dropped so it is not doubled.

use crate::names::sanitize_metric_name;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Counter,
    Gauge,
    Other,
}

fn unit_word(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        _ => return None,
    })
}

fn per_unit_word(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "second",
        "m" | "min" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

/// Drops `{...}` annotations (`{request}`, `By{compressed}`): they are not units.
fn strip_annotations(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    let mut depth = 0u32;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// Unknown units keep their alphanumeric text so information is not silently lost.
fn clean_word(w: &str) -> String {
    let s: String = w
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    s.trim_matches('_').to_owned()
}

/// The unit suffix words (`["seconds"]`, `["bytes", "per", "second"]`), possibly empty.
pub fn unit_suffix(unit: &str, shape: Shape) -> Vec<String> {
    let unit = strip_annotations(unit);
    if unit.is_empty() {
        return Vec::new();
    }
    if unit == "1" {
        return if shape == Shape::Gauge {
            vec!["ratio".to_owned()]
        } else {
            Vec::new()
        };
    }
    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m, Some(p)),
        None => (unit.as_str(), None),
    };
    let mut words = Vec::new();
    let main_word = unit_word(main).map_or_else(|| clean_word(main), str::to_owned);
    if !main_word.is_empty() && main != "1" {
        words.push(main_word);
    }
    if let Some(p) = per {
        let per_word = per_unit_word(p).map_or_else(|| clean_word(p), str::to_owned);
        if !per_word.is_empty() {
            words.push("per".to_owned());
            words.push(per_word);
        }
    }
    words
}

/// The Prometheus family name for an OTel metric (counters without `_total`).
pub fn metric_name(name: &str, unit: &str, shape: Shape) -> String {
    let base = sanitize_metric_name(name);
    let mut tokens: Vec<&str> = base.split('_').filter(|t| !t.is_empty()).collect();
    if shape == Shape::Counter {
        while tokens.last() == Some(&"total") {
            tokens.pop();
        }
    }
    let suffix = unit_suffix(unit, shape);
    let suffix_refs: Vec<&str> = suffix.iter().map(String::as_str).collect();
    if !suffix_refs.is_empty() && !tokens.ends_with(&suffix_refs) {
        tokens.extend(suffix_refs);
    }
    let mut out = tokens.join("_");
    if base.starts_with('_') && !out.starts_with('_') {
        // Keep the leading `_` sanitizing gave a name that starts with a digit.
        out.insert(0, '_');
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_names() {
        use Shape::*;
        for (name, unit, shape, want) in [
            (
                "http.server.request.duration",
                "s",
                Other,
                "http_server_request_duration_seconds",
            ),
            (
                "http.server.request.duration_seconds",
                "s",
                Other,
                "http_server_request_duration_seconds",
            ),
            (
                "system.memory.usage",
                "By",
                Gauge,
                "system_memory_usage_bytes",
            ),
            (
                "http.server.requests",
                "{request}",
                Counter,
                "http_server_requests",
            ),
            ("requests.total", "{request}", Counter, "requests"),
            ("requests_total", "", Counter, "requests"),
            ("cpu.utilization", "1", Gauge, "cpu_utilization_ratio"),
            ("cpu.utilization", "1", Counter, "cpu_utilization"),
            ("net.io", "By/s", Gauge, "net_io_bytes_per_second"),
            ("queue.rate", "{item}/min", Gauge, "queue_rate_per_minute"),
            ("disk.io", "By{compressed}", Counter, "disk_io_bytes"),
            ("temp", "Cel", Gauge, "temp_celsius"),
            ("weird-name!", "furlongs", Gauge, "weird_name_furlongs"),
            ("9lives", "", Gauge, "_9lives"),
            (
                "gen_ai.client.token.usage",
                "{token}",
                Other,
                "gen_ai_client_token_usage",
            ),
            ("db.latency", "ms", Other, "db_latency_milliseconds"),
            ("ratio", "%", Gauge, "ratio_percent"),
        ] {
            assert_eq!(
                metric_name(name, unit, shape),
                want,
                "{name} [{unit}] {shape:?}"
            );
            assert!(crate::names::is_valid_metric_name(&metric_name(
                name, unit, shape
            )));
        }
    }
}
