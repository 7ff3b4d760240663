//! Configuration as plain data, at the bottom of the tree: the schema (this file and one file per
//! section), loading with `${VAR}` substitution, and checks of plain values that collect *every*
//! problem with its file:line:column.
//!
//! Nothing here knows how a section is used. Each subsystem builds its behaviour *from* its
//! section (`statsd::Mapper`, `derive::pricing::Compiled`, `derive::budget::BudgetDef`, ...), and
//! the checks that need that compiling are made by the layer that compiles
//! (`pipeline::Snapshot::try_new`), whose problems [`load::load_config_with`] reports with the
//! rest. (A price table is checked by compiling it too: `derive::pricing` implements
//! [`Validate`] for it.) Problems are reported by key path (`budgets[2].limit_usd`); the loader
//! turns paths into line and column of the source file.

pub mod auth;
pub mod budget;
pub mod connections;
pub mod fleet;
pub mod load;
pub mod notifications;
pub mod otlp;
pub mod pricing;
pub mod quality;
pub mod recommendations;
pub mod redact;
pub mod statsd;
pub mod summary;
pub mod tls;
pub mod ui;
pub mod units;
pub mod usage;

pub use units::{ByteSize, HumanDuration};

use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration file. Every section has defaults, so an empty file is a valid config.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    pub listeners: Listeners,
    /// Labels that usage, cost and budget series keep (besides `provider` and `model`). Anything
    /// else a sender attaches is dropped from derived families to bound cardinality.
    pub scope_labels: Vec<String>,
    pub limits: Limits,
    pub statsd: statsd::StatsdConfig,
    pub otlp: otlp::OtlpConfig,
    /// Price table file, relative to this config file's directory. Exclusive with `pricing`.
    pub pricing_file: Option<PathBuf>,
    /// Inline price table (or, after loading, the contents of `pricing_file`).
    pub pricing: Option<pricing::PricingTable>,
    pub budgets: Vec<budget::BudgetConfig>,
    /// Where fleet-wide budget spend is queried (budgets with a `fleet_query`).
    pub fleet: fleet::FleetConfig,
    pub quality: quality::QualityConfig,
    /// Label redaction rules, applied before anything is stored.
    pub redact: Vec<redact::RedactRule>,
    /// Credentials required on the HTTP endpoint (`/metrics`, `/api/*`); health stays open.
    pub http_auth: auth::AuthConfig,
    /// Tokens for `/api/v1/admin/*` (reload, budget reset); the routes answer 404 without any.
    pub admin: auth::AdminConfig,
    /// TLS per TCP listener (`http`, `otlp_grpc`, `otlp_http`); plain TCP where absent.
    pub tls: tls::TlsListeners,
    pub state: StateConfig,
    /// The usage ledger: durable hour/day rollups behind `/api/v1/usage` and `meterd report`.
    pub usage: usage::UsageConfig,
    /// Budget threshold notifications (log line always; optional webhook).
    pub notifications: notifications::NotificationsConfig,
    /// Cost and quality recommendations from the usage ledger.
    pub recommendations: recommendations::RecommendationsConfig,
    /// The status page at `/ui`.
    pub ui: ui::UiConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listeners: Listeners::default(),
            scope_labels: ["service", "env", "team", "project", "stage"]
                .into_iter()
                .map(String::from)
                .collect(),
            limits: Limits::default(),
            statsd: Default::default(),
            otlp: Default::default(),
            pricing_file: None,
            pricing: None,
            budgets: Vec::new(),
            fleet: Default::default(),
            quality: Default::default(),
            redact: Vec::new(),
            http_auth: Default::default(),
            admin: Default::default(),
            tls: Default::default(),
            state: StateConfig::default(),
            usage: Default::default(),
            notifications: Default::default(),
            recommendations: Default::default(),
            ui: Default::default(),
        }
    }
}

/// Where meterd listens. Ingest binds loopback (a sidecar's app is local); the HTTP endpoint binds
/// all interfaces so Prometheus can scrape it. An empty value disables that listener.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct Listeners {
    pub statsd_udp: Option<SocketAddr>,
    pub statsd_tcp: Option<SocketAddr>,
    pub otlp_grpc: Option<SocketAddr>,
    pub otlp_http: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
}

impl Default for Listeners {
    fn default() -> Self {
        let addr = |s: &str| s.parse().ok();
        Listeners {
            statsd_udp: addr("127.0.0.1:8125"),
            statsd_tcp: addr("127.0.0.1:8125"),
            otlp_grpc: addr("127.0.0.1:4317"),
            otlp_http: addr("127.0.0.1:4318"),
            http: addr("0.0.0.0:9464"),
        }
    }
}

/// Bounds. Each one, when hit, drops or rejects visibly (a `meterd_*` counter with a reason).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct Limits {
    pub max_series_per_metric: usize,
    pub max_series_total: usize,
    pub series_ttl: HumanDuration,
    pub max_set_members: usize,
    /// Longest StatsD line accepted (bytes); longer lines are counted as `line_too_long`.
    pub max_line_bytes: usize,
    /// Packets (UDP) or line batches (TCP) waiting between sockets and parsers.
    pub statsd_queue_packets: usize,
    pub statsd_tcp_max_connections: usize,
    pub statsd_tcp_idle_timeout: HumanDuration,
    pub max_label_value_bytes: usize,
    pub max_labels_per_series: usize,
    /// Largest OTLP request body, compressed, and after decompression.
    pub max_request_bytes: ByteSize,
    pub max_decompressed_bytes: ByteSize,
    /// Resident memory above which new series are shed and OTLP answers "retry later"; unset
    /// means no guard (set it below the container's memory limit).
    pub max_memory: Option<ByteSize>,
    /// Smallest StatsD sample rate (`@rate`) accepted: a line claiming to stand for more than
    /// 1/rate occurrences is rejected (`sample_rate_too_low`), so `@1e-300` cannot scale a value
    /// into an absurd one.
    pub min_sample_rate: f64,
    /// Largest quantity (tokens, requests, seconds, characters, images), after sampling weight,
    /// one StatsD line or one usage event may carry; larger ones are rejected and counted, never
    /// priced.
    pub max_usage_per_line: u64,
    /// Connections open at once per TCP listener (see `config/connections.rs` for the policy at
    /// the cap); StatsD TCP's is `statsd_tcp_max_connections`.
    pub http_max_connections: usize,
    pub otlp_http_max_connections: usize,
    pub otlp_grpc_max_connections: usize,
    /// Time a new connection has to send its request headers (HTTP/1; for OTLP/gRPC the HTTP/2
    /// connection preface) on the HTTP endpoint, OTLP/HTTP and OTLP/gRPC.
    pub header_read_timeout: HumanDuration,
    /// A connection on those listeners with no bytes moving either way for this long is closed;
    /// zero disables it.
    pub idle_timeout: HumanDuration,
    /// Time an OTLP/HTTP body has to arrive once its headers are in.
    pub otlp_body_timeout: HumanDuration,
    /// OTLP/HTTP body bytes being received at once across connections (bodies are read before a
    /// concurrency slot is taken); at least `max_request_bytes` is always allowed.
    pub max_buffered_body_bytes: ByteSize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_series_per_metric: 10_000,
            max_series_total: 200_000,
            series_ttl: HumanDuration(Duration::from_secs(600)),
            max_set_members: 10_000,
            max_line_bytes: 8192,
            statsd_queue_packets: 8192,
            statsd_tcp_max_connections: 256,
            statsd_tcp_idle_timeout: HumanDuration(Duration::from_secs(300)),
            max_label_value_bytes: 1024,
            max_labels_per_series: 32,
            max_request_bytes: ByteSize(8 * 1024 * 1024),
            max_decompressed_bytes: ByteSize(64 * 1024 * 1024),
            max_memory: None,
            min_sample_rate: 1e-6,
            max_usage_per_line: 1_000_000_000,
            http_max_connections: 128,
            otlp_http_max_connections: 128,
            otlp_grpc_max_connections: 128,
            header_read_timeout: HumanDuration(Duration::from_secs(10)),
            idle_timeout: HumanDuration(Duration::from_secs(300)),
            otlp_body_timeout: HumanDuration(Duration::from_secs(10)),
            max_buffered_body_bytes: ByteSize(32 * 1024 * 1024),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct StateConfig {
    pub data_dir: PathBuf,
    /// How often spend from StatsD (which has no acknowledgement) is made durable.
    pub flush_interval: HumanDuration,
    /// How long an OTLP request waits for its spend to be committed before it is told to retry:
    /// a stalled disk must not hold requests (and their concurrency slots) indefinitely.
    pub commit_timeout: HumanDuration,
}

/// Above this an OTLP exporter has long given up (the SDKs' default export timeout is 10 s).
const MAX_COMMIT_TIMEOUT: Duration = Duration::from_secs(300);

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            data_dir: PathBuf::from("./data"),
            flush_interval: HumanDuration(Duration::from_secs(1)),
            commit_timeout: HumanDuration(Duration::from_secs(10)),
        }
    }
}

/// One configuration problem, located by key path (`statsd.mappings[3].match`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

/// Problems found while validating; collected, never returned early, so a user sees all at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Issues(pub Vec<Issue>);

impl Issues {
    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue {
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn append(&mut self, other: Issues) {
        self.0.extend(other.0);
    }
}

impl fmt::Display for Issues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in &self.0 {
            writeln!(f, "{}: {}", i.path, i.message)?;
        }
        Ok(())
    }
}

/// Semantic checks beyond what deserialization enforces. `path` is this value's key path.
pub trait Validate {
    fn validate(&self, path: &str, issues: &mut Issues);
}

/// Joins a key path: `child("limits", "max_series_total")`, `child("budgets", 2)` -> `budgets[2]`.
pub fn child(path: &str, key: impl fmt::Display) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

impl Validate for Config {
    /// Plain values only: `pricing`, `budgets` and `statsd.mappings` are checked by compiling them
    /// (see [`load::load_config_with`]).
    fn validate(&self, path: &str, issues: &mut Issues) {
        self.limits.validate(&child(path, "limits"), issues);
        self.state.validate(&child(path, "state"), issues);
        self.usage.validate(&child(path, "usage"), issues);
        self.notifications
            .validate(&child(path, "notifications"), issues);
        self.recommendations
            .validate(&child(path, "recommendations"), issues);
        self.ui.validate(&child(path, "ui"), issues);
        self.statsd.validate(&child(path, "statsd"), issues);
        self.otlp.validate(&child(path, "otlp"), issues);
        self.fleet.validate(&child(path, "fleet"), issues);
        self.quality.validate(&child(path, "quality"), issues);
        self.redact.validate(&child(path, "redact"), issues);
        self.http_auth.validate(&child(path, "http_auth"), issues);
        self.admin.validate_against(
            &child(path, "admin"),
            &[
                (child(path, "http_auth"), &self.http_auth),
                (child(path, "otlp.auth"), &self.otlp.auth),
            ],
            issues,
        );
        for (i, l) in self.scope_labels.iter().enumerate() {
            if !crate::names::is_valid_label_name(l) {
                issues.error(
                    index(&child(path, "scope_labels"), i),
                    format!("{l:?} is not a valid Prometheus label name"),
                );
            }
        }
    }
}

impl Validate for StateConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        let t = self.commit_timeout.0;
        if t.is_zero() || t > MAX_COMMIT_TIMEOUT {
            issues.error(
                child(path, "commit_timeout"),
                format!(
                    "must be greater than 0 and at most {}s",
                    MAX_COMMIT_TIMEOUT.as_secs()
                ),
            );
        }
    }
}

/// Highest `limits.max_usage_per_line` accepted.
const MAX_USAGE_CEILING: u64 = 1_000_000_000_000_000;

impl Validate for Limits {
    fn validate(&self, path: &str, issues: &mut Issues) {
        let positive = [
            ("max_series_per_metric", self.max_series_per_metric),
            ("max_series_total", self.max_series_total),
            ("max_set_members", self.max_set_members),
            ("max_line_bytes", self.max_line_bytes),
            ("statsd_queue_packets", self.statsd_queue_packets),
            (
                "statsd_tcp_max_connections",
                self.statsd_tcp_max_connections,
            ),
            ("max_label_value_bytes", self.max_label_value_bytes),
            ("max_labels_per_series", self.max_labels_per_series),
        ];
        for (key, v) in positive {
            if v == 0 {
                issues.error(child(path, key), "must be greater than 0");
            }
        }
        if self.max_request_bytes.0 == 0 {
            issues.error(child(path, "max_request_bytes"), "must be greater than 0");
        }
        if let Some(m) = self.max_memory {
            if m.0 < 16 * 1024 * 1024 {
                issues.error(
                    child(path, "max_memory"),
                    "must be at least 16MiB (meterd itself needs a few MiB)",
                );
            }
        }
        if !(self.min_sample_rate > 0.0 && self.min_sample_rate <= 1.0) {
            issues.error(
                child(path, "min_sample_rate"),
                format!("must be in (0, 1], got {}", self.min_sample_rate),
            );
        }
        // Above 1e15 a quantity is no longer exact in the f64 the weighting uses, and no real
        // call comes near it.
        if self.max_usage_per_line == 0 || self.max_usage_per_line > MAX_USAGE_CEILING {
            issues.error(
                child(path, "max_usage_per_line"),
                format!(
                    "must be between 1 and {MAX_USAGE_CEILING}, got {}",
                    self.max_usage_per_line
                ),
            );
        }
        connections::validate(self, path, issues);
        if self.max_decompressed_bytes.0 < self.max_request_bytes.0 {
            issues.error(
                child(path, "max_decompressed_bytes"),
                "must be at least max_request_bytes",
            );
        }
    }
}
