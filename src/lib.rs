//! meterd: a sidecar that turns an AI app's telemetry into cost, quality and budget metrics.
//!
//! The tree follows the data in one direction, bottom to top; a module uses only modules of a
//! lower layer (`tests/layering.rs` fails on anything else):
//! 1. [`names`], [`model`] (samples, events, labels, exact money), [`clock`]: plain types;
//! 2. [`config`]: the config file as plain data, loaded and checked (no behaviour);
//! 3. [`store`]: the bounded, concurrent series registry;
//! 4. [`telemetry`] (meterd's own `meterd_*` families, one catalogue), [`health`], [`memory`];
//! 5. pure cores, each built *from* its config section: [`derive`](mod@derive) (usage, pricing, budgets,
//!    quality, dedup, redaction), [`statsd`] and [`otlp`] (decoders: lines and export requests in,
//!    samples and events out); and [`tls`] (certificates to rustls, the TLS accept loop);
//! 6. [`state`]: the durable state file (budget spend, dedup keys, budgets created over the API);
//! 7. [`pipeline`]: the hand-off; compiles a config into a [`pipeline::Snapshot`] (the one step
//!    start, reload and `check-config` share), merges it with the budgets of the admin API, and
//!    applies derived samples;
//! 8. [`net`]: binding, connection limits on every TCP listener, HTTP serving, request auth;
//! 9. edges: [`receivers`] (StatsD and OTLP sockets), [`expose`] (`/metrics`, health, the JSON
//!    API (budgets, usage), admin actions), [`notify`] (budget notifications: log, webhook),
//!    [`report`] (`meterd report` over the usage ledger: spend, forecast, what-if);
//! 10. [`app`]: wiring, timers, the fleet query, reload and signals.

pub mod app;
pub mod clock;
pub mod config;
pub mod derive;
pub mod expose;
pub mod health;
pub mod memory;
pub mod model;
pub mod names;
pub mod net;
pub mod notify;
pub mod otlp;
pub mod pipeline;
pub mod receivers;
pub mod report;
pub mod state;
pub mod statsd;
pub mod store;
pub mod telemetry;
pub mod tls;
