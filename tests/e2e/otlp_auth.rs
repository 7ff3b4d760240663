//! Credentials on OTLP ingest (`otlp.auth`), over both transports with real clients: the OTel SDK
//! exporters for the accepted path, raw reqwest and tonic clients to see the exact refusal (401
//! with a challenge, `UNAUTHENTICATED`). A reload rotates the credentials.

use crate::support::agent::{find_value, Agent};
use opentelemetry::metrics::MeterProvider;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    metrics_service_client::MetricsServiceClient, ExportMetricsServiceRequest,
};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use std::collections::HashMap;
use std::time::Duration;

const TOKEN: &str = "ingest-token-0123456789";
const SCRAPE_TOKEN: &str = "scrape-token-0123456789";
/// app:ingest-password-0123
const BASIC: &str = "Basic YXBwOmluZ2VzdC1wYXNzd29yZC0wMTIz";

fn config(token: &str) -> String {
    format!(
        "otlp:\n  auth:\n    bearer_tokens: [\"{token}\"]\n    basic:\n      - {{username: app, password: \"ingest-password-0123\"}}\nhttp_auth:\n  bearer_tokens: [\"{SCRAPE_TOKEN}\"]\n"
    )
}

fn http_status(agent: &Agent, auth: Option<&str>) -> reqwest::blocking::Response {
    let url = format!(
        "http://{}/v1/metrics",
        agent.addrs().otlp_http.expect("otlp http")
    );
    let mut req = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body("{}");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().expect("otlp http post")
}

fn grpc_code(agent: &Agent, rt: &tokio::runtime::Runtime, auth: Option<&str>) -> tonic::Code {
    let url = format!("http://{}", agent.addrs().otlp_grpc.expect("otlp grpc"));
    rt.block_on(async {
        let mut client = MetricsServiceClient::connect(url).await.expect("connect");
        let mut req = tonic::Request::new(ExportMetricsServiceRequest::default());
        if let Some(a) = auth {
            req.metadata_mut()
                .insert("authorization", a.parse().expect("metadata value"));
        }
        match client.export(req).await {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        }
    })
}

fn scrape(agent: &Agent) -> String {
    reqwest::blocking::Client::new()
        .get(format!("http://{}/metrics", agent.http()))
        .header("authorization", format!("Bearer {SCRAPE_TOKEN}"))
        .send()
        .expect("scrape")
        .text()
        .expect("body")
}

/// One counter exported by the real SDK with `auth` as the authorization header/metadata;
/// returns whether the export succeeded.
fn sdk_export(
    agent: &Agent,
    rt: &tokio::runtime::Runtime,
    grpc: bool,
    auth: &str,
    name: &str,
) -> bool {
    let exporter = if grpc {
        let mut md = tonic::metadata::MetadataMap::new();
        md.insert("authorization", auth.parse().expect("metadata"));
        let url = format!("http://{}", agent.addrs().otlp_grpc.expect("grpc"));
        rt.block_on(async {
            opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(url)
                .with_metadata(md)
                .build()
                .expect("grpc exporter")
        })
    } else {
        let url = format!(
            "http://{}/v1/metrics",
            agent.addrs().otlp_http.expect("http")
        );
        opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_endpoint(url)
            .with_headers(HashMap::from([(
                "authorization".to_string(),
                auth.to_string(),
            )]))
            .build()
            .expect("http exporter")
    };
    let reader = PeriodicReader::builder(exporter)
        .with_interval(Duration::from_secs(3600))
        .build();
    let provider = SdkMeterProvider::builder().with_reader(reader).build();
    provider
        .meter("auth-test")
        .u64_counter(name.to_string())
        .build()
        .add(1, &[]);
    let ok = provider.force_flush().is_ok();
    let _ = provider.shutdown();
    ok
}

/// A sample line of counter `name` (any labels) with value 1.
fn has_one(body: &str, name: &str) -> bool {
    body.lines()
        .any(|l| l.starts_with(&format!("{name}_total")) && l.ends_with(" 1"))
}

#[test]
fn ingest_requires_its_own_credentials_on_both_transports_and_rotates_on_reload() {
    let agent = Agent::start(&config(TOKEN));
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // OTLP/HTTP: missing, wrong and scrape credentials are refused with a challenge.
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789"),
        Some(&*format!("Bearer {SCRAPE_TOKEN}")),
    ] {
        let resp = http_status(&agent, auth);
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert!(resp.headers().contains_key("www-authenticate"), "{auth:?}");
    }
    assert_eq!(
        http_status(&agent, Some(&format!("Bearer {TOKEN}"))).status(),
        200
    );
    assert_eq!(http_status(&agent, Some(BASIC)).status(), 200);

    // OTLP/gRPC: the same through `authorization` metadata.
    assert_eq!(grpc_code(&agent, &rt, None), tonic::Code::Unauthenticated);
    assert_eq!(
        grpc_code(&agent, &rt, Some("Bearer wrong-token-0123456789")),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        grpc_code(&agent, &rt, Some(&format!("Bearer {TOKEN}"))),
        tonic::Code::Ok
    );
    assert_eq!(grpc_code(&agent, &rt, Some(BASIC)), tonic::Code::Ok);

    // The real SDK exporters, each mode and transport.
    for (grpc, auth, name) in [
        (true, format!("Bearer {TOKEN}"), "grpc_bearer"),
        (true, BASIC.to_string(), "grpc_basic"),
        (false, format!("Bearer {TOKEN}"), "http_bearer"),
        (false, BASIC.to_string(), "http_basic"),
    ] {
        assert!(sdk_export(&agent, &rt, grpc, &auth, name), "{name} refused");
    }
    assert!(!sdk_export(
        &agent,
        &rt,
        true,
        "Bearer wrong-token-0123456789",
        "grpc_wrong"
    ));
    assert!(!sdk_export(
        &agent,
        &rt,
        false,
        "Bearer wrong-token-0123456789",
        "http_wrong"
    ));
    let body = scrape(&agent);
    for name in ["grpc_bearer", "grpc_basic", "http_bearer", "http_basic"] {
        assert!(has_one(&body, name), "{name} missing:\n{body}");
    }
    assert!(
        !body.contains("grpc_wrong") && !body.contains("http_wrong"),
        "{body}"
    );
    // At least the raw refusals above (the SDK's own refused attempts come on top: it exports
    // again on shutdown).
    let refused = |transport: &str| {
        find_value(
            &body,
            &format!("meterd_otlp_requests_total{{result=\"unauthorized\",signal=\"metrics\",transport=\"{transport}\"}}"),
        )
        .unwrap_or(0.0)
    };
    assert!(refused("http") >= 4.0, "{body}");
    assert!(refused("grpc") >= 3.0, "{body}");

    // Rotation: after a reload the old token is refused at once, the new one accepted.
    agent.write_config(&config("rotated-ingest-token-0123"));
    agent.running().reload().expect("reload");
    assert_eq!(
        http_status(&agent, Some(&format!("Bearer {TOKEN}"))).status(),
        401
    );
    assert_eq!(
        grpc_code(&agent, &rt, Some(&format!("Bearer {TOKEN}"))),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        http_status(&agent, Some("Bearer rotated-ingest-token-0123")).status(),
        200
    );
    assert_eq!(
        grpc_code(&agent, &rt, Some("Bearer rotated-ingest-token-0123")),
        tonic::Code::Ok
    );
}

#[test]
fn ingest_is_open_by_default() {
    let agent = Agent::start("");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    assert_eq!(http_status(&agent, None).status(), 200);
    assert_eq!(grpc_code(&agent, &rt, None), tonic::Code::Ok);
}
