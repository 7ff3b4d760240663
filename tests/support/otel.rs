//! Real OpenTelemetry Rust SDK clients pointed at an in-process meterd, over each OTLP transport.
//! Exports are driven by `force_flush`, which returns once the server has answered, so tests
//! scrape right after without waiting.

use super::agent::Agent;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    HttpProto,
    HttpJson,
}

pub const ALL: [Transport; 3] = [Transport::Grpc, Transport::HttpProto, Transport::HttpJson];

/// The tonic client needs a Tokio runtime to live in; HTTP uses reqwest's blocking client, which
/// must not run inside one. Each client gets its own runtime for the gRPC case.
pub struct Client {
    pub rt: tokio::runtime::Runtime,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("client runtime"),
        }
    }
}

pub fn resource(service: &str, attrs: &[(&'static str, &'static str)]) -> Resource {
    Resource::builder_empty()
        .with_service_name(service.to_owned())
        .with_attributes(attrs.iter().map(|(k, v)| KeyValue::new(*k, *v)))
        .build()
}

fn endpoint(agent: &Agent, t: Transport, path: &str) -> String {
    match t {
        Transport::Grpc => format!("http://{}", agent.addrs().otlp_grpc.expect("grpc")),
        _ => format!("http://{}{path}", agent.addrs().otlp_http.expect("http")),
    }
}

impl Client {
    pub fn metric_exporter(
        &self,
        agent: &Agent,
        t: Transport,
        temporality: Temporality,
    ) -> opentelemetry_otlp::MetricExporter {
        let url = endpoint(agent, t, "/v1/metrics");
        match t {
            Transport::Grpc => self.rt.block_on(async {
                opentelemetry_otlp::MetricExporter::builder()
                    .with_tonic()
                    .with_endpoint(url)
                    .with_compression(opentelemetry_otlp::Compression::Gzip)
                    .with_temporality(temporality)
                    .build()
                    .expect("grpc metric exporter")
            }),
            Transport::HttpProto | Transport::HttpJson => {
                opentelemetry_otlp::MetricExporter::builder()
                    .with_http()
                    .with_protocol(if t == Transport::HttpJson {
                        Protocol::HttpJson
                    } else {
                        Protocol::HttpBinary
                    })
                    .with_endpoint(url)
                    .with_temporality(temporality)
                    .build()
                    .expect("http metric exporter")
            }
        }
    }

    /// A reader that exports only on `force_flush`, so the test decides when data is sent.
    pub fn manual_reader(
        &self,
        agent: &Agent,
        t: Transport,
        temporality: Temporality,
    ) -> PeriodicReader<opentelemetry_otlp::MetricExporter> {
        PeriodicReader::builder(self.metric_exporter(agent, t, temporality))
            .with_interval(Duration::from_secs(3600))
            .build()
    }

    pub fn meter_provider(
        &self,
        agent: &Agent,
        t: Transport,
        resource: Resource,
        temporality: Temporality,
    ) -> SdkMeterProvider {
        SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(self.manual_reader(agent, t, temporality))
            .build()
    }

    pub fn tracer_provider(
        &self,
        agent: &Agent,
        t: Transport,
        resource: Resource,
    ) -> SdkTracerProvider {
        let url = endpoint(agent, t, "/v1/traces");
        let exporter = match t {
            Transport::Grpc => self.rt.block_on(async {
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(url)
                    .build()
                    .expect("grpc span exporter")
            }),
            _ => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(if t == Transport::HttpJson {
                    Protocol::HttpJson
                } else {
                    Protocol::HttpBinary
                })
                .with_endpoint(url)
                .build()
                .expect("http span exporter"),
        };
        SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build()
    }

    pub fn logger_provider(
        &self,
        agent: &Agent,
        t: Transport,
        resource: Resource,
    ) -> opentelemetry_sdk::logs::SdkLoggerProvider {
        let url = endpoint(agent, t, "/v1/logs");
        let exporter = match t {
            Transport::Grpc => self.rt.block_on(async {
                opentelemetry_otlp::LogExporter::builder()
                    .with_tonic()
                    .with_endpoint(url)
                    .build()
                    .expect("grpc log exporter")
            }),
            _ => opentelemetry_otlp::LogExporter::builder()
                .with_http()
                .with_protocol(if t == Transport::HttpJson {
                    Protocol::HttpJson
                } else {
                    Protocol::HttpBinary
                })
                .with_endpoint(url)
                .build()
                .expect("http log exporter"),
        };
        opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build()
    }
}

/// The exposition lines (sample lines, no comments) whose name starts with `prefix`.
pub fn lines_with_prefix(body: &str, prefix: &str) -> Vec<String> {
    body.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}
