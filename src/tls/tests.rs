use super::*;

#[path = "../../tests/support/certs.rs"]
#[allow(dead_code, clippy::expect_used)]
mod certs;

fn listeners(c: TlsConfig) -> TlsListeners {
    TlsListeners {
        otlp_grpc: Some(c),
        ..Default::default()
    }
}

fn build(t: &TlsListeners) -> Result<Vec<(Which, Arc<ServerConfig>)>, String> {
    t.build("meterd.yaml", &|_| (3, 5))
        .map_err(|e| e.to_string())
}

#[test]
fn a_missing_file_is_reported_with_its_key_and_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = listeners(TlsConfig {
        cert_file: dir.path().join("nope.pem"),
        key_file: dir.path().join("nope.key"),
        client_ca_file: None,
    });
    let err = build(&t).expect_err("missing file");
    assert!(
        err.starts_with("meterd.yaml:3:5: tls.otlp_grpc.cert_file: cannot read"),
        "{err}"
    );
    assert!(
        err.contains(&dir.path().join("nope.pem").display().to_string()),
        "{err}"
    );
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = certs::generate(dir.path(), "a-");
    let b = certs::generate(dir.path(), "b-");
    let t = listeners(TlsConfig {
        cert_file: a.cert_file.clone(),
        key_file: b.key_file.clone(),
        client_ca_file: None,
    });
    let err = build(&t).expect_err("mismatched key");
    assert!(err.contains("tls.otlp_grpc.key_file"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
    let key = std::fs::read_to_string(&b.key_file).expect("key");
    let body: String = key.lines().nth(1).unwrap_or_default().to_string();
    assert!(!err.contains(&body), "{err}");
}

#[test]
fn valid_files_build_with_the_listener_protocol_and_client_verification() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = certs::generate(dir.path(), "");
    let mut t = listeners(TlsConfig {
        cert_file: "server.pem".into(),
        key_file: "server.key".into(),
        client_ca_file: Some("ca.pem".into()),
    });
    t.resolve(dir.path());
    assert_eq!(t.files().len(), 3);
    assert_eq!(t.files()[0], pki.cert_file.as_path());
    let built = build(&t).expect("valid");
    assert_eq!(built.len(), 1);
    assert_eq!(built[0].0, Which::OtlpGrpc);
    assert_eq!(built[0].1.alpn_protocols, vec![b"h2".to_vec()]);
    // An empty CA file is an error, not "no client verification".
    std::fs::write(&pki.ca_file, "").expect("truncate");
    let err = build(&t).expect_err("empty CA");
    assert!(
        err.contains("tls.otlp_grpc.client_ca_file: no PEM certificate"),
        "{err}"
    );
}

#[test]
fn load_resolves_paths_against_the_config_file_and_locates_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meterd.yaml");
    std::fs::write(
        &path,
        "tls:\n  http:\n    cert_file: certs/missing.pem\n    key_file: certs/missing.key\n",
    )
    .expect("write");
    let err = crate::config::load::load_config(&path)
        .expect_err("missing certificate")
        .to_string();
    let missing = dir.path().join("certs/missing.pem").display().to_string();
    assert!(err.contains(":3:"), "{err}");
    assert!(err.contains("tls.http.cert_file: cannot read"), "{err}");
    assert!(err.contains(&missing), "{err}");

    certs::generate(dir.path(), "");
    std::fs::write(
        &path,
        "tls:\n  http: {cert_file: server.pem, key_file: server.key}\n",
    )
    .expect("write");
    let config = crate::config::load::load_config(&path).expect("valid");
    let http = config.tls.http.expect("tls.http");
    assert_eq!(http.cert_file, dir.path().join("server.pem"));
}
