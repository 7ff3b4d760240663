//! Where `meterd report` reads the ledger: a state file no agent has open (read-only), or a
//! running agent's `/api/v1/usage` (hour rows grouped by every dimension, so the report
//! regroups them exactly as the agent would) and `/metrics` (quality and outcome counters).

use super::Quality;
use crate::config::fleet::Target;
use crate::derive::ledger::row::{self, Gran, Key, Totals, QUANTITY_NAMES};
use crate::derive::ledger::{clock, decode_rows};
use crate::derive::pricing::Amount;
use crate::derive::recommend::{AppCache, Status, Stored};
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
            match l.get("grade").map(String::as_str) {
                Some("good" | "excellent") => q.good += v,
                Some("poor") => q.poor += v,
                _ => {}
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

/// Hits and misses per app cache from a Prometheus text scrape (`llm_cache_requests_total`).
pub fn parse_caches(text: &str) -> Vec<AppCache> {
    let mut by: BTreeMap<String, AppCache> = BTreeMap::new();
    for line in text.lines() {
        let Some((l, v)) = series(line, "llm_cache_requests_total") else {
            continue;
        };
        let name = l.get("cache").cloned().unwrap_or_default();
        let c = by.entry(name.clone()).or_insert_with(|| AppCache {
            cache: name,
            ..Default::default()
        });
        match l.get("result").map(String::as_str) {
            Some("hit") => c.hits += v,
            Some("miss") => c.misses += v,
            _ => {}
        }
    }
    by.into_values().collect()
}

/// Statuses set on a running agent, from `/api/v1/recommendations?status=all`.
pub fn parse_statuses(body: &[u8]) -> Result<BTreeMap<String, Stored>, String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("recommendations answer is not JSON: {e}"))?;
    let mut out = BTreeMap::new();
    for r in v["recommendations"].as_array().into_iter().flatten() {
        let (Some(id), Some(set)) = (r["id"].as_str(), r.get("status_set")) else {
            continue;
        };
        let Some(status) = set["status"].as_str().and_then(Status::parse) else {
            continue;
        };
        let saving = set["savings_usd_exact"].as_str().unwrap_or("0");
        let (neg, digits) = match saving.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, saving),
        };
        let femto = i128::try_from(femto(digits)?).map_err(|_| format!("saving {saving:?}"))?;
        let at = set["at"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or(0, |t| t.as_second());
        out.insert(
            id.to_string(),
            Stored {
                status,
                savings_femto: if neg { -femto } else { femto },
                who: set["by"].as_str().unwrap_or_default().to_string(),
                at,
            },
        );
    }
    Ok(out)
}

/// Statuses from a state file no agent has open; undecodable ones are left out.
pub fn statuses_from_state(path: &Path) -> Result<BTreeMap<String, Stored>, String> {
    let file = if path.is_dir() {
        path.join(crate::state::FILE_NAME)
    } else {
        path.to_path_buf()
    };
    let records = crate::state::recommendations::read_offline(&file)?;
    Ok(records
        .into_iter()
        .filter_map(|(id, v)| Stored::decode(&v).ok().map(|s| (id, s)))
        .collect())
}

/// What a running agent answers for a report.
pub struct FromApi {
    pub rows: Rows,
    pub quality: BTreeMap<String, Quality>,
    pub caches: Vec<AppCache>,
    pub statuses: BTreeMap<String, Stored>,
}

/// Hour rows in `[from, to)`, quality rates, app caches and recommendation statuses from a
/// running agent.
pub fn from_api(
    url: &str,
    token: Option<&str>,
    scope_labels: &[String],
    from: i64,
    to: i64,
) -> Result<FromApi, String> {
    let target = Target::parse(url)?;
    let (rows, quality, text) = fetch(&target, token, scope_labels, from, to)?;
    let rt = runtime()?;
    // An agent with recommendations off (404) has no statuses to show.
    let statuses = match rt.block_on(get(&target, "/api/v1/recommendations?status=all", token)) {
        Ok(body) => parse_statuses(&body)?,
        Err(e) if e.contains("HTTP 404") => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    Ok(FromApi {
        rows,
        quality,
        caches: parse_caches(&text),
        statuses,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

type Fetched = (Rows, BTreeMap<String, Quality>, String);

fn fetch(
    target: &Target,
    token: Option<&str>,
    scope_labels: &[String],
    from: i64,
    to: i64,
) -> Result<Fetched, String> {
    let mut group_by = vec!["hour".to_string(), "provider".into(), "model".into()];
    group_by.extend(scope_labels.iter().cloned());
    let path = format!(
        "/api/v1/usage?from={from}&to={to}&group_by={}",
        group_by.join(",")
    );
    runtime()?.block_on(async {
        let body = get(target, &path, token).await?;
        let rows = parse_usage(&body, scope_labels)?;
        let metrics = get(target, "/metrics", token).await?;
        let text = String::from_utf8_lossy(&metrics).into_owned();
        Ok((rows, parse_quality(&text), text))
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
