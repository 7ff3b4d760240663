//! Everything meterd serves over HTTP: `/metrics`, `/healthz`, `/readyz` and `/api/v1/*`.

pub mod text;
pub mod process;
pub mod server;
