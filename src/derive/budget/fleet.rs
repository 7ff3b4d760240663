//! Fleet-wide spend: each sidecar counts only its own app, so a budget shared by many replicas
//! asks a Prometheus-compatible query API (Prometheus, Thanos, Mimir) for the total with its
//! `fleet_query`, typically `sum(llm_budget_spend_usd{budget="search-monthly"})`: every sidecar's
//! own (local) spend gauge, summed.
//!
//! This is the pure part: [`parse_response`]. The query itself (one HTTP/1 GET with a timeout
//! and a body cap) is an edge, in `app::fleet`; the settings are `config::fleet`. Results are
//! cached in the engine with the time they were fetched and used only while fresh and within the
//! current period; when the API is down the budget falls back to local spend
//! and says so (`source: local`, `fleet_error`).

use crate::model::Labels;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

/// Parses an instant-query response (`vector` or `scalar`) into series and USD values.
pub fn parse_response(body: &[u8]) -> Result<Vec<(Labels, f64)>, String> {
    let r: Response =
        serde_json::from_slice(body).map_err(|e| format!("not a query API response: {e}"))?;
    if r.status != "success" {
        return Err(format!(
            "query failed: {}",
            r.error.unwrap_or_else(|| r.status.clone())
        ));
    }
    let data = r.data.ok_or("response has no data")?;
    let value = |s: &str| -> Result<f64, String> {
        let v: f64 = s.parse().map_err(|_| format!("bad sample value {s:?}"))?;
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(format!(
                "spend must be a finite non-negative number, got {s}"
            ))
        }
    };
    match data.result_type.as_str() {
        "vector" => {
            let samples: Vec<VectorSample> = serde_json::from_value(data.result)
                .map_err(|e| format!("bad vector result: {e}"))?;
            samples
                .into_iter()
                .map(|s| Ok((Labels::new(s.metric), value(&s.value.1)?)))
                .collect()
        }
        "scalar" => {
            let (_, v): (f64, String) = serde_json::from_value(data.result)
                .map_err(|e| format!("bad scalar result: {e}"))?;
            Ok(vec![(Labels::empty(), value(&v)?)])
        }
        other => Err(format!(
            "query returned a {other}; a fleet_query must return an instant vector or scalar"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_scalar_and_errors() {
        let v = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"user":"a"},"value":[1700000000.1,"12.5"]},{"metric":{},"value":[1,"0"]}]}}"#;
        let r = parse_response(v).unwrap();
        assert_eq!(r[0], (Labels::new([("user", "a")]), 12.5));
        assert_eq!(r[1], (Labels::empty(), 0.0));
        let s = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"3"]}}"#;
        assert_eq!(parse_response(s).unwrap(), vec![(Labels::empty(), 3.0)]);
        let e = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#;
        assert!(parse_response(e).unwrap_err().contains("parse error"));
        let m = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(parse_response(m).unwrap_err().contains("matrix"));
        let neg = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"-1"]}}"#;
        assert!(parse_response(neg).is_err());
        let nan = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}"#;
        assert!(parse_response(nan).is_err());
        assert!(parse_response(b"<html>").is_err());
    }
}
