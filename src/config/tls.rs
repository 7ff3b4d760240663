//! `tls:`: certificate, key and client CA files per TCP listener, as written. Building rustls
//! server configs from them is `tls`.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One listener's certificate, key and, for mTLS, the CA that client certificates must chain to.
/// Relative paths are relative to the config file's directory.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct TlsConfig {
    /// PEM: the server certificate first, then any intermediates.
    pub cert_file: PathBuf,
    /// PEM: PKCS#8, PKCS#1 or SEC1 private key matching `cert_file`.
    pub key_file: PathBuf,
    /// PEM: CA certificates; when set, clients must present a certificate signed by one.
    pub client_ca_file: Option<PathBuf>,
}

/// `tls:` per listener; a listener without an entry serves plain TCP.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct TlsListeners {
    pub http: Option<TlsConfig>,
    pub otlp_grpc: Option<TlsConfig>,
    pub otlp_http: Option<TlsConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Http,
    OtlpGrpc,
    OtlpHttp,
}

pub const ALL: [Which; 3] = [Which::Http, Which::OtlpGrpc, Which::OtlpHttp];

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Http => "http",
            Which::OtlpGrpc => "otlp_grpc",
            Which::OtlpHttp => "otlp_http",
        }
    }
}

impl TlsListeners {
    pub fn get(&self, which: Which) -> Option<&TlsConfig> {
        match which {
            Which::Http => self.http.as_ref(),
            Which::OtlpGrpc => self.otlp_grpc.as_ref(),
            Which::OtlpHttp => self.otlp_http.as_ref(),
        }
    }

    fn get_mut(&mut self, which: Which) -> Option<&mut TlsConfig> {
        match which {
            Which::Http => self.http.as_mut(),
            Which::OtlpGrpc => self.otlp_grpc.as_mut(),
            Which::OtlpHttp => self.otlp_http.as_mut(),
        }
    }

    /// Makes relative paths relative to `dir` (the config file's directory).
    pub fn resolve(&mut self, dir: &Path) {
        for w in ALL {
            if let Some(c) = self.get_mut(w) {
                for p in [&mut c.cert_file, &mut c.key_file] {
                    if p.is_relative() {
                        *p = dir.join(&*p);
                    }
                }
                if let Some(p) = c.client_ca_file.as_mut().filter(|p| p.is_relative()) {
                    *p = dir.join(&*p);
                }
            }
        }
    }

    /// Every file these settings read, for the config watcher (a renewed certificate reloads).
    pub fn files(&self) -> Vec<&Path> {
        ALL.iter()
            .filter_map(|w| self.get(*w))
            .flat_map(|c| {
                [Some(c.cert_file.as_path()), Some(c.key_file.as_path())]
                    .into_iter()
                    .chain([c.client_ca_file.as_deref()])
                    .flatten()
            })
            .collect()
    }
}
