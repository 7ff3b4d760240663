//! OTLP/gRPC under overload answers `UNAVAILABLE`, the code OTLP exporters retry with backoff, and
//! accepts again once the overload is gone, when every concurrency slot is taken (the slots are
//! shared with OTLP/HTTP). The memory guard is not such an overload: while it sheds, requests are
//! accepted and only their new series are refused (issue 20: spend must keep flowing).

use crate::support::agent::Agent;
use crate::support::wait_until;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    metrics_service_client::MetricsServiceClient, ExportMetricsServiceRequest,
};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use std::io::Write;
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

#[test]
fn grpc_answers_unavailable_while_every_slot_is_taken() {
    let agent = Agent::start("otlp:\n  max_concurrent_requests: 1\n");
    let http = agent.addrs().otlp_http.expect("http");
    // An OTLP/HTTP request whose body never comes holds the only slot until its connection
    // closes. A gRPC export can win the race for the slot (the staller then gets the 503), so
    // each round opens another staller.
    let stall = || {
        let mut s = std::net::TcpStream::connect(http).expect("connect");
        s.write_all(
            b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100\r\n\r\n",
        )
        .expect("write");
        s
    };
    let mut grpc = Grpc::connect(&agent);
    let mut stalled = vec![stall()];
    let status = wait_until(
        "UNAVAILABLE while the slot is held",
        Duration::from_secs(20),
        || match grpc.export("held") {
            Err(s) => Some(s),
            Ok(()) => {
                stalled.push(stall());
                None
            }
        },
    );
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("retry"), "{status:?}");
    assert!(overloaded_grpc(&agent).is_some_and(|n| n >= 1.0));

    drop(stalled);
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
