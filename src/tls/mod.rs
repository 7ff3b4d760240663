//! Optional TLS (and mTLS) on the TCP listeners: the HTTP endpoint and both OTLP transports.
//!
//! - this file: the `tls:` config section and building a rustls `ServerConfig` from PEM files;
//! - [`serve`]: the accept loop that handshakes off the accept path, for axum and tonic.
//!
//! Certificates are read at load (so `check-config` reports a missing or mismatched file with its
//! path) and again on every reload: each listener reads its current `ServerConfig` per connection
//! from an `ArcSwap`, so rotated certificates apply to new connections without a restart.
//! Turning TLS on or off for a listener needs a restart (the socket's protocol changes).

pub mod serve;

use crate::config::load::{ConfigError, ConfigErrors};
use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::Path;

pub use crate::config::tls::{TlsConfig, TlsListeners, Which, ALL};
use std::sync::Arc;

impl Which {
    /// gRPC clients refuse a TLS connection that did not negotiate HTTP/2; the axum servers speak
    /// HTTP/1.1 only.
    fn alpn(self) -> Vec<Vec<u8>> {
        match self {
            Which::OtlpGrpc => vec![b"h2".to_vec()],
            Which::Http | Which::OtlpHttp => vec![b"http/1.1".to_vec()],
        }
    }
}

impl TlsListeners {
    /// Builds every configured listener's `ServerConfig`; problems name the key and the file.
    /// `locate` turns a key path into a position in the config file.
    pub fn build(
        &self,
        file: &str,
        locate: &dyn Fn(&str) -> (usize, usize),
    ) -> Result<Vec<(Which, Arc<ServerConfig>)>, ConfigErrors> {
        let mut built = Vec::new();
        let mut errors = Vec::new();
        for w in ALL {
            let Some(c) = self.get(w) else { continue };
            match server_config(c, w.alpn()) {
                Ok(sc) => built.push((w, Arc::new(sc))),
                Err((key, message)) => {
                    let path = format!("tls.{}.{key}", w.name());
                    let (line, column) = locate(&path);
                    errors.push(ConfigError {
                        file: file.to_string(),
                        line,
                        column,
                        path,
                        message,
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(built)
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

/// The ring provider, passed explicitly so no process-wide default has to be installed.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no PEM certificate in {}", path.display()));
    }
    Ok(certs)
}

/// Builds one listener's config. The error is `(key, message)`; messages carry file paths, never
/// file contents.
fn server_config(
    c: &TlsConfig,
    alpn: Vec<Vec<u8>>,
) -> Result<ServerConfig, (&'static str, String)> {
    if c.cert_file.as_os_str().is_empty() {
        return Err(("cert_file", "is required".into()));
    }
    if c.key_file.as_os_str().is_empty() {
        return Err(("key_file", "is required".into()));
    }
    let certs = read_certs(&c.cert_file).map_err(|e| ("cert_file", e))?;
    let key = PrivateKeyDer::from_pem_file(&c.key_file).map_err(|e| {
        (
            "key_file",
            format!(
                "cannot read a private key from {}: {e}",
                c.key_file.display()
            ),
        )
    })?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ("cert_file", format!("TLS setup failed: {e}")))?;
    let builder = match &c.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca).map_err(|e| ("client_ca_file", e))? {
                roots.add(cert).map_err(|e| {
                    (
                        "client_ca_file",
                        format!("bad CA certificate in {}: {e}", ca.display()),
                    )
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| ("client_ca_file", format!("{}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        (
            "key_file",
            format!(
                "{} does not go with {}: {e}",
                c.key_file.display(),
                c.cert_file.display()
            ),
        )
    })?;
    config.alpn_protocols = alpn;
    Ok(config)
}

/// The running listeners' TLS configs, swapped in place on reload.
#[derive(Clone, Default)]
pub struct Live {
    slots: Vec<(Which, Arc<ArcSwap<ServerConfig>>)>,
}

impl Live {
    pub fn new(built: Vec<(Which, Arc<ServerConfig>)>) -> Live {
        Live {
            slots: built
                .into_iter()
                .map(|(w, c)| (w, Arc::new(ArcSwap::new(c))))
                .collect(),
        }
    }

    pub fn get(&self, which: Which) -> Option<Arc<ArcSwap<ServerConfig>>> {
        self.slots
            .iter()
            .find(|(w, _)| *w == which)
            .map(|(_, c)| c.clone())
    }

    /// Reads the new config's certificates without applying them (a reload is all or nothing).
    pub fn prepare(
        &self,
        tls: &TlsListeners,
        config_path: &Path,
    ) -> Result<Vec<(Which, Arc<ServerConfig>)>, ConfigErrors> {
        tls.build(&config_path.display().to_string(), &|_| (0, 0))
    }

    /// Swaps in rebuilt configs. A listener that gained or lost TLS keeps its current mode until
    /// a restart, and says so.
    pub fn apply(&self, built: Vec<(Which, Arc<ServerConfig>)>) {
        for w in ALL {
            let new = built.iter().find(|(b, _)| *b == w).map(|(_, c)| c.clone());
            match (self.get(w), new) {
                (Some(slot), Some(c)) => slot.store(c),
                (None, None) => {}
                (Some(_), None) | (None, Some(_)) => tracing::warn!(
                    listener = w.name(),
                    "TLS turned on or off in config; that applies on restart"
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests;
