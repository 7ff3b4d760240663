//! Everything meterd serves over HTTP: `/metrics`, `/healthz`, `/readyz` and `/api/v1/*`.

pub mod api;
pub mod auth;
pub mod process;
pub mod server;
pub mod text;
