//! Usage queries: parameters (`from`, `to`, `group_by`, `format`, label filters) checked
//! strictly, rows grouped and summed, rendered as JSON or RFC 4180 CSV. Pure: the caller reads
//! the rows (state file and live buckets) for [`Query::ranges`].

use super::clock;
use super::row::{self, Gran, Key, Totals, QUANTITY_NAMES};
use crate::derive::pricing::decimal::{femto_to_usd_f64, format_usd};
use jiff::tz::TimeZone;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A `group_by` dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    Provider,
    Model,
    Day,
    Hour,
    Label(String),
}

impl Dim {
    pub fn name(&self) -> &str {
        match self {
            Dim::Provider => "provider",
            Dim::Model => "model",
            Dim::Day => "day",
            Dim::Hour => "hour",
            Dim::Label(l) => l,
        }
    }

    fn value(&self, key: &Key, tz: &TimeZone) -> String {
        match self {
            Dim::Provider => key.provider.clone(),
            Dim::Model => key.model.clone(),
            Dim::Day => clock::date_text(tz, key.start),
            Dim::Hour => clock::time_text(tz, key.start),
            Dim::Label(l) => label(key, l).to_string(),
        }
    }
}

fn label<'a>(key: &'a Key, name: &str) -> &'a str {
    match name {
        "provider" => &key.provider,
        "model" => &key.model,
        _ => key
            .labels
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// Buckets starting in `[from, to)` (Unix seconds).
    pub from: i64,
    pub to: i64,
    pub gran: Gran,
    pub group_by: Vec<Dim>,
    /// Label (or provider/model) equal to value.
    pub filters: Vec<(String, String)>,
    pub format: Format,
}

/// A bad request: the message, and the parameters that were not understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadQuery {
    pub error: String,
    pub unknown: Vec<String>,
    pub accepted: Vec<String>,
}

const RESERVED: [&str; 4] = ["from", "to", "group_by", "format"];

/// Parses query parameters. Defaults: the current local month so far (to the end of today),
/// grouped by provider and model, JSON. Any parameter that is neither reserved nor provider,
/// model or a scope label is refused: a typo must not silently widen a report.
pub fn parse(
    params: &[(String, String)],
    scope_labels: &[String],
    tz: &TimeZone,
    now: i64,
) -> Result<Query, BadQuery> {
    let is_label = |k: &str| k == "provider" || k == "model" || scope_labels.iter().any(|s| s == k);
    let mut accepted: Vec<String> = RESERVED.iter().map(|s| s.to_string()).collect();
    accepted.extend(["provider".into(), "model".into()]);
    accepted.extend(scope_labels.iter().cloned());
    let bad = |error: String, unknown: Vec<String>| BadQuery {
        error,
        unknown,
        accepted: accepted.clone(),
    };
    let mut unknown: Vec<String> = params
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !RESERVED.contains(&k.as_str()) && !is_label(k))
        .cloned()
        .collect();
    unknown.sort();
    unknown.dedup();
    if !unknown.is_empty() {
        return Err(bad(format!("unknown parameters {unknown:?}"), unknown));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (k, _) in params {
        if k != "group_by" && seen.contains(&k.as_str()) {
            return Err(bad(format!("parameter {k:?} given more than once"), vec![]));
        }
        seen.push(k);
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let today = clock::day_start(tz, now);
    let from = match get("from") {
        Some(t) => clock::parse_time(t, tz).map_err(|e| bad(format!("from: {e}"), vec![]))?,
        None => month_start(tz, now).unwrap_or(today),
    };
    let to = match get("to") {
        Some(t) => clock::parse_time(t, tz).map_err(|e| bad(format!("to: {e}"), vec![]))?,
        // The end of today: the current buckets are included.
        None => clock::day_start(tz, today + 36 * 3600),
    };
    if to <= from {
        return Err(bad(
            format!("to ({to}) must be after from ({from})"),
            vec![],
        ));
    }
    let mut group_by = Vec::new();
    let specs = params.iter().filter(|(k, _)| k == "group_by");
    let mut any = false;
    for name in specs.flat_map(|(_, v)| v.split(',')).map(str::trim) {
        any = true;
        if name.is_empty() {
            continue;
        }
        let dim = match name {
            "provider" => Dim::Provider,
            "model" => Dim::Model,
            "day" => Dim::Day,
            "hour" => Dim::Hour,
            l if is_label(l) => Dim::Label(l.to_string()),
            other => {
                return Err(bad(
                    format!(
                        "group_by: unknown dimension {other:?} (provider, model, day, hour or a \
                         scope label)"
                    ),
                    vec![],
                ))
            }
        };
        if !group_by.contains(&dim) {
            group_by.push(dim);
        }
    }
    if !any {
        group_by = vec![Dim::Provider, Dim::Model];
    }
    let format = match get("format") {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(f) => return Err(bad(format!("format: {f:?} is not json or csv"), vec![])),
    };
    let day_aligned = |t: i64| clock::day_start(tz, t) == t;
    let gran = if group_by.contains(&Dim::Hour) || !day_aligned(from) || !day_aligned(to) {
        Gran::Hour
    } else {
        Gran::Day
    };
    let filters = params
        .iter()
        .filter(|(k, _)| is_label(k))
        .cloned()
        .collect();
    Ok(Query {
        from,
        to,
        gran,
        group_by,
        filters,
        format,
    })
}

fn month_start(tz: &TimeZone, now: i64) -> Option<i64> {
    let z = jiff::Timestamp::from_second(now).ok()?.to_zoned(tz.clone());
    let first = z.date().first_of_month();
    Some(first.to_zoned(tz.clone()).ok()?.timestamp().as_second())
}

impl Query {
    /// The key range holding this query's buckets.
    pub fn range(&self) -> (Vec<u8>, Vec<u8>) {
        (
            row::range_bound(self.gran, self.from),
            row::range_bound(self.gran, self.to),
        )
    }
}

/// One output row: the group's values (in `group_by` order) and its totals.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub values: Vec<String>,
    pub totals: Totals,
}

/// Filters and sums `rows` into groups, sorted by their values.
pub fn aggregate(rows: &[(Key, Totals)], q: &Query, tz: &TimeZone) -> Vec<Group> {
    let mut groups: BTreeMap<Vec<String>, Totals> = BTreeMap::new();
    for (key, totals) in rows {
        if key.gran != q.gran || key.start < q.from || key.start >= q.to {
            continue;
        }
        if !q.filters.iter().all(|(n, v)| label(key, n) == v) {
            continue;
        }
        let values = q.group_by.iter().map(|d| d.value(key, tz)).collect();
        groups.entry(values).or_default().add(totals);
    }
    groups
        .into_iter()
        .map(|(values, totals)| Group { values, totals })
        .collect()
}

pub fn sum(groups: &[Group]) -> Totals {
    let mut t = Totals::default();
    for g in groups {
        t.add(&g.totals);
    }
    t
}

fn totals_json(t: &Totals, m: &mut Map<String, Value>) {
    m.insert("requests".into(), json!(t.requests));
    m.insert("errors".into(), json!(t.errors));
    for (name, q) in QUANTITY_NAMES.iter().zip(t.quantities) {
        m.insert((*name).into(), json!(q));
    }
    m.insert("cost_usd".into(), json!(femto_to_usd_f64(t.cost_femto)));
    m.insert("cost_usd_exact".into(), json!(format_usd(t.cost_femto)));
}

/// The JSON body: the query as understood, one object per group, and the total.
pub fn to_json(q: &Query, groups: &[Group], tz_name: &str, tz: &TimeZone) -> Value {
    let rows: Vec<Value> = groups
        .iter()
        .map(|g| {
            let mut m = Map::new();
            for (d, v) in q.group_by.iter().zip(&g.values) {
                m.insert(d.name().to_string(), json!(v));
            }
            totals_json(&g.totals, &mut m);
            Value::Object(m)
        })
        .collect();
    let mut total = Map::new();
    totals_json(&sum(groups), &mut total);
    json!({
        "from": clock::time_text(tz, q.from),
        "to": clock::time_text(tz, q.to),
        "timezone": tz_name,
        "granularity": q.gran.as_str(),
        "group_by": q.group_by.iter().map(Dim::name).collect::<Vec<_>>(),
        "filters": q.filters.iter().cloned().collect::<BTreeMap<_, _>>(),
        "rows": rows,
        "total": Value::Object(total),
    })
}

/// One RFC 4180 field: quoted when it holds a comma, quote, CR or LF; quotes doubled.
fn csv_field(s: &str, out: &mut String) {
    if s.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// RFC 4180 CSV: a header row, then one row per group; CRLF line ends; exact decimal cost.
pub fn to_csv(q: &Query, groups: &[Group]) -> String {
    let mut out = String::new();
    let mut header: Vec<&str> = q.group_by.iter().map(Dim::name).collect();
    header.extend(["requests", "errors"]);
    header.extend(QUANTITY_NAMES);
    header.push("cost_usd");
    for (i, h) in header.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(h, &mut out);
    }
    out.push_str("\r\n");
    for g in groups {
        for (i, v) in g.values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(v, &mut out);
        }
        let t = &g.totals;
        let mut nums = vec![t.requests.to_string(), t.errors.to_string()];
        nums.extend(t.quantities.iter().map(u64::to_string));
        nums.push(format_usd(t.cost_femto));
        for (i, n) in nums.iter().enumerate() {
            if i > 0 || !g.values.is_empty() {
                out.push(',');
            }
            out.push_str(n);
        }
        out.push_str("\r\n");
    }
    out
}
