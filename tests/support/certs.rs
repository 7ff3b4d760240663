//! Test PKI made at run time (no private key is ever committed): a CA, a server certificate for
//! `localhost` and `127.0.0.1`, and a client certificate for mTLS, written as PEM files.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

pub struct Pki {
    pub ca_pem: String,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

/// Writes `ca.pem`, `server.pem`, `server.key` into `dir`, named with `prefix` (so a second PKI,
/// for rotation tests, can sit beside the first).
pub fn generate(dir: &Path, prefix: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("meterd test CA {prefix}"));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");

    let server_key = KeyPair::generate().expect("server key");
    let server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server params")
        .signed_by(&server_key, &ca)
        .expect("server cert");

    let client_key = KeyPair::generate().expect("client key");
    let mut client_params =
        CertificateParams::new(vec!["client.test".to_string()]).expect("client params");
    client_params
        .distinguished_name
        .push(DnType::CommonName, "meterd test client");
    let client = client_params
        .signed_by(&client_key, &ca)
        .expect("client cert");

    let ca_file = dir.join(format!("{prefix}ca.pem"));
    let cert_file = dir.join(format!("{prefix}server.pem"));
    let key_file = dir.join(format!("{prefix}server.key"));
    std::fs::write(&ca_file, ca.pem()).expect("write ca");
    std::fs::write(&cert_file, server.pem()).expect("write cert");
    std::fs::write(&key_file, server_key.serialize_pem()).expect("write key");
    Pki {
        ca_pem: ca.pem(),
        ca_file,
        cert_file,
        key_file,
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}
