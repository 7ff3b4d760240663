//! OTLP/gRPC under overload answers `UNAVAILABLE`, the code OTLP exporters retry with backoff, and
//! accepts again once the overload is gone, when every concurrency slot is taken (the slots are
//! shared with OTLP/HTTP requests being decoded and applied). The memory guard is not such an overload: while it sheds, requests are
//! accepted and only their new series are refused (issue 20: spend must keep flowing).

use crate::support::agent::Agent;
use crate::support::wait_until;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    metrics_service_client::MetricsServiceClient, ExportMetricsServiceRequest,
};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use std::time::Duration;
use tonic::transport::Channel;

fn request(name: &str) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: name.into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            value: Some(number_data_point::Value::AsDouble(1.0)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

struct Grpc {
    rt: tokio::runtime::Runtime,
    client: MetricsServiceClient<Channel>,
}

impl Grpc {
    fn connect(agent: &Agent) -> Grpc {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let url = format!("http://{}", agent.addrs().otlp_grpc.expect("grpc"));
        let client = rt
            .block_on(MetricsServiceClient::connect(url))
            .expect("grpc connect");
        Grpc { rt, client }
    }

    fn export(&mut self, name: &str) -> Result<(), tonic::Status> {
        let mut req = tonic::Request::new(request(name));
        req.set_timeout(Duration::from_secs(10));
        self.rt.block_on(self.client.export(req)).map(|_| ())
    }
}

fn overloaded_grpc(agent: &Agent) -> Option<f64> {
    agent.metric(
        r#"meterd_otlp_requests_total{result="overloaded",signal="metrics",transport="grpc"}"#,
    )
}

/// A request large enough that decoding and applying it keeps the slot for a while.
fn big_request() -> Vec<u8> {
    use prost::Message;
    let mut req = request("load");
    if let Some(Data::Gauge(g)) = req.resource_metrics[0].scope_metrics[0].metrics[0]
        .data
        .as_mut()
    {
        g.data_points = vec![g.data_points[0].clone(); 50_000];
    }
    req.encode_to_vec()
}

#[test]
fn grpc_answers_unavailable_while_every_slot_is_taken() {
    let agent = Agent::start("otlp:\n  max_concurrent_requests: 1\n");
    let http = agent.addrs().otlp_http.expect("http");
    // Slots are held while a request is decoded and applied (a stalled body no longer holds
    // one), so OTLP/HTTP senders of large batches keep the only slot busy.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let body = big_request();
    let loaders: Vec<_> = (0..4)
        .map(|_| {
            let (stop, body) = (stop.clone(), body.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = client
                        .post(format!("http://{http}/v1/metrics"))
                        .header("content-type", "application/x-protobuf")
                        .body(body.clone())
                        .timeout(Duration::from_secs(10))
                        .send();
                }
            })
        })
        .collect();
    let mut grpc = Grpc::connect(&agent);
    let status = wait_until(
        "UNAVAILABLE while the slot is held",
        Duration::from_secs(30),
        || grpc.export("held").err(),
    );
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("retry"), "{status:?}");
    assert!(overloaded_grpc(&agent).is_some_and(|n| n >= 1.0));

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in loaders {
        l.join().expect("loader");
    }
    wait_until("the slot to free up", Duration::from_secs(20), || {
        grpc.export("freed").ok()
    });
    assert_eq!(agent.metric("freed"), Some(1.0));
}

#[test]
fn grpc_is_accepted_while_the_memory_guard_sheds_and_only_new_series_are_refused() {
    let agent = Agent::start("");
    let mut grpc = Grpc::connect(&agent);
    grpc.export("before").expect("export before the limit");

    // This test process certainly holds more than 16 MiB once this ballast is touched.
    let ballast = vec![1u8; 48 << 20];
    agent.write_config("limits:\n  max_memory: 16MiB\n");
    agent.running().reload().expect("reload");
    wait_until("shedding", Duration::from_secs(10), || {
        (agent.metric("meterd_memory_shedding") == Some(1.0)).then_some(())
    });
    grpc.export("before")
        .expect("a point of an existing series while shedding");
    grpc.export("shed")
        .expect("a request with a new series is answered, its series refused");
    assert_eq!(overloaded_grpc(&agent), None, "no request refused whole");
    assert_eq!(
        agent.metric("shed"),
        None,
        "a new series stored while shedding"
    );
    assert_eq!(agent.metric("before"), Some(1.0));

    agent.write_config("limits:\n  max_memory: 64GiB\n");
    agent.running().reload().expect("reload");
    wait_until("shedding stops", Duration::from_secs(10), || {
        (agent.metric("meterd_memory_shedding") == Some(0.0)).then_some(())
    });
    grpc.export("after")
        .expect("export after the limit is raised");
    assert_eq!(agent.metric("after"), Some(1.0));
    drop(ballast);
}
