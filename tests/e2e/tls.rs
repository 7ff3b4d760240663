//! TLS on every TCP listener with real clients: HTTPS scrape (hyper over rustls trusting a CA made
//! at test time), plain HTTP refused, OTLP over gRPC (the OTel SDK's tonic TLS) and over HTTP (an
//! OTLP/JSON export over the same HTTPS client), mTLS without a client certificate refused,
//! certificates rotated by reload.

use crate::support::agent::{find_value, Agent};
use crate::support::certs::{self, Pki};
use crate::support::tls_client::request;
use crate::support::wait_until;
use opentelemetry::metrics::MeterProvider;
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

fn tls_yaml(listeners: &[&str], pki: &Pki, mtls: bool) -> String {
    let mut y = String::from("tls:\n");
    for l in listeners {
        y.push_str(&format!(
            "  {l}:\n    cert_file: {}\n    key_file: {}\n",
            pki.cert_file.display(),
            pki.key_file.display()
        ));
        if mtls {
            y.push_str(&format!("    client_ca_file: {}\n", pki.ca_file.display()));
        }
    }
    y
}

/// Starts meterd with TLS on `listeners`, certificates written into a fresh directory.
fn start(listeners: &[&str], mtls: bool) -> (Agent, Pki, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = certs::generate(dir.path(), "");
    let agent = Agent::start(&tls_yaml(listeners, &pki, mtls));
    (agent, pki, dir)
}

fn scrape_with(pki: &Pki, client_cert: bool, addr: SocketAddr) -> Result<String, String> {
    match request(pki, client_cert, addr, "GET", "/metrics", &[], "")? {
        (200, body) => Ok(body),
        (status, body) => Err(format!("{status}: {body}")),
    }
}

fn scrape(pki: &Pki, agent: &Agent) -> Result<String, String> {
    scrape_with(pki, false, agent.http())
}

/// One OTLP/JSON cumulative counter named `name`.
fn otlp_json(name: &str) -> String {
    format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"{name}","sum":{{"dataPoints":[{{"asInt":"1","timeUnixNano":"1700000000000000000"}}],"aggregationTemporality":2,"isMonotonic":true}}}}]}}]}}]}}"#
    )
}

#[test]
fn https_scrape_works_and_plain_http_is_refused() {
    let (agent, pki, _dir) = start(&["http"], false);
    let body = scrape(&pki, &agent).expect("https scrape");
    assert!(body.contains("meterd_build_info"), "{body}");

    let plain = reqwest::blocking::Client::new()
        .get(format!("http://{}/metrics", agent.http()))
        .timeout(Duration::from_secs(10))
        .send();
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
    wait_until("handshake failure counted", Duration::from_secs(10), || {
        let body = scrape(&pki, &agent).ok()?;
        find_value(
            &body,
            "meterd_tls_handshake_failures_total{listener=\"http\",reason=\"handshake\"}",
        )
        .filter(|v| *v >= 1.0)
    });

    // A client that does not trust the CA is refused too.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let stranger = certs::generate(other_dir.path(), "");
    assert!(scrape(&stranger, &agent).is_err());
}

fn export_counter(exporter: opentelemetry_otlp::MetricExporter, name: &str) -> bool {
    let reader = PeriodicReader::builder(exporter)
        .with_interval(Duration::from_secs(3600))
        .build();
    let provider = SdkMeterProvider::builder().with_reader(reader).build();
    provider
        .meter("tls-test")
        .u64_counter(name.to_string())
        .build()
        .add(1, &[]);
    let ok = provider.force_flush().is_ok();
    let _ = provider.shutdown();
    ok
}

#[test]
fn otlp_over_tls_on_both_transports_with_the_sdk() {
    let (agent, pki, _dir) = start(&["otlp_grpc", "otlp_http"], false);
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    let grpc_port = agent.addrs().otlp_grpc.expect("grpc").port();
    let grpc = rt.block_on(async {
        opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(format!("https://localhost:{grpc_port}"))
            .with_tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(&pki.ca_pem))
                    .domain_name("localhost"),
            )
            .build()
            .expect("grpc tls exporter")
    });
    assert!(
        export_counter(grpc, "over_grpc_tls"),
        "gRPC over TLS export failed"
    );

    let otlp_http = agent.addrs().otlp_http.expect("http");
    let json = [("content-type", "application/json")];
    let (status, body) = request(
        &pki,
        false,
        otlp_http,
        "POST",
        "/v1/metrics",
        &json,
        &otlp_json("over_http_tls"),
    )
    .expect("OTLP/HTTP over TLS");
    assert_eq!(status, 200, "{body}");

    // The SDK's plain-text exporter is refused by the TLS listener.
    let plain = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_endpoint(format!("http://{otlp_http}/v1/metrics"))
        .build()
        .expect("plain exporter");
    assert!(!export_counter(plain, "over_plain_http"));

    let body = agent.scrape(None);
    for name in ["over_grpc_tls_total", "over_http_tls_total"] {
        assert!(
            body.lines()
                .any(|l| l.starts_with(name) && l.ends_with(" 1")),
            "{name} missing:\n{body}"
        );
    }
    assert!(!body.contains("over_plain_http"), "{body}");
}

#[test]
fn mtls_requires_a_client_certificate_from_the_ca() {
    let (agent, pki, _dir) = start(&["http", "otlp_http"], true);
    assert!(
        scrape_with(&pki, false, agent.http()).is_err(),
        "no client cert accepted"
    );
    let body = scrape_with(&pki, true, agent.http()).expect("mTLS scrape");
    assert!(body.contains("meterd_build_info"));

    let otlp_http = agent.addrs().otlp_http.expect("otlp http");
    let json = [("content-type", "application/json")];
    let post = |cert: bool| request(&pki, cert, otlp_http, "POST", "/v1/metrics", &json, "{}");
    assert!(post(false).is_err(), "OTLP without client cert accepted");
    assert_eq!(post(true).expect("mTLS post").0, 200);
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy");
}

#[test]
fn certificates_rotate_on_reload() {
    let (agent, old, dir) = start(&["http"], false);
    scrape(&old, &agent).expect("old certificate served");

    // A new CA and server certificate replace the files in place (as cert-manager does).
    let new = certs::generate(dir.path(), "next-");
    copy(&new.cert_file, &old.cert_file);
    copy(&new.key_file, &old.key_file);
    agent.running().reload().expect("reload");
    scrape(&new, &agent).expect("new certificate served");
    assert!(scrape(&old, &agent).is_err(), "old CA still trusted");

    // A key that does not match is rejected and the running certificate stays.
    std::fs::write(
        &old.key_file,
        std::fs::read(dir.path().join("next-ca.pem")).expect("ca"),
    )
    .expect("write");
    let err = agent.running().reload().expect_err("bad key rejected");
    assert!(err.to_string().contains("tls.http.key_file"), "{err}");
    scrape(&new, &agent).expect("still served");
}
