use super::*;
use crate::model::{Exemplar, FamilyOptions, Labels, Sample, SampleValue, SummaryData};
use crate::store::Store;
use std::sync::Arc;

fn store_with_all_kinds() -> Store {
    let st = Store::default();
    let opts = |help: &str, buckets: Option<Arc<[f64]>>| {
        Arc::new(FamilyOptions {
            help: Some(Arc::from(help)),
            buckets,
            ..Default::default()
        })
    };
    let mut c = Sample::new(
        "req",
        Labels::new([("path", "/a\"b\\c\nd")]),
        SampleValue::CounterAdd(3.0),
    );
    c.options = opts("Requests \"served\".\nSecond line.", None);
    c.exemplar = Some(Exemplar {
        labels: Labels::new([("trace_id", "abc")]),
        value: 1.0,
        timestamp: Some(1700000000.5),
    });
    st.apply(&c).unwrap();
    st.apply(&Sample::new(
        "temp",
        Labels::empty(),
        SampleValue::GaugeSet(0.25),
    ))
    .unwrap();
    let mut h = Sample::new(
        "lat_seconds",
        Labels::new([("op", "chat")]),
        SampleValue::Observe {
            value: 0.7,
            weight: 1.0,
        },
    );
    h.options = opts("Latency.", Some(Arc::new([0.5, 1.0])));
    h.exemplar = Some(Exemplar {
        labels: Labels::new([("trace_id", "t1")]),
        value: 0.7,
        timestamp: None,
    });
    st.apply(&h).unwrap();
    st.apply(&Sample::new(
        "rpc",
        Labels::empty(),
        SampleValue::SummarySet(SummaryData {
            quantiles: vec![(0.5, 1.5), (0.99, 4.0)],
            sum: 10.0,
            count: 5,
        }),
    ))
    .unwrap();
    st
}

#[test]
fn text_format_exact() {
    let got = render(&store_with_all_kinds().snapshot(), Format::Text);
    let want = r#"# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{op="chat",le="0.5"} 0
lat_seconds_bucket{op="chat",le="1"} 1
lat_seconds_bucket{op="chat",le="+Inf"} 1
lat_seconds_sum{op="chat"} 0.7
lat_seconds_count{op="chat"} 1
# HELP req_total Requests "served".\nSecond line.
# TYPE req_total counter
req_total{path="/a\"b\\c\nd"} 3
# TYPE rpc summary
rpc{quantile="0.5"} 1.5
rpc{quantile="0.99"} 4
rpc_sum 10
rpc_count 5
# TYPE temp gauge
temp 0.25
"#;
    assert_eq!(got, want);
}

#[test]
fn openmetrics_format_exact() {
    let got = render(&store_with_all_kinds().snapshot(), Format::OpenMetrics);
    let want = r#"# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{op="chat",le="0.5"} 0
lat_seconds_bucket{op="chat",le="1.0"} 1 # {trace_id="t1"} 0.7
lat_seconds_bucket{op="chat",le="+Inf"} 1
lat_seconds_sum{op="chat"} 0.7
lat_seconds_count{op="chat"} 1
# HELP req Requests \"served\".\nSecond line.
# TYPE req counter
req_total{path="/a\"b\\c\nd"} 3 # {trace_id="abc"} 1 1700000000.500
# TYPE rpc summary
rpc{quantile="0.5"} 1.5
rpc{quantile="0.99"} 4
rpc_sum 10
rpc_count 5
# TYPE temp gauge
temp 0.25
# EOF
"#;
    assert_eq!(got, want);
}

#[test]
fn floats_render_shortest_and_special_values() {
    let cases = [
        (1.0, "1"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (1e20, "1e20"),
        (1e-7, "1e-7"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
    ];
    for (v, want) in cases {
        let mut s = String::new();
        push_float(&mut s, v);
        assert_eq!(s, want);
    }
}

#[test]
fn accept_negotiation() {
    assert_eq!(Format::from_accept(None), Format::Text);
    assert_eq!(
        Format::from_accept(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )),
        Format::OpenMetrics
    );
    assert_eq!(Format::from_accept(Some("text/plain")), Format::Text);
}
