//! Everything meterd serves over HTTP: `/metrics`, `/healthz`, `/readyz`, `/api/v1/*`, the
//! status page `/ui` and the admin actions under `/api/v1/admin/`.

pub mod admin;
pub mod api;
pub mod process;
pub mod recommendations;
pub mod server;
pub mod shared_render;
pub mod text;
pub mod ui;
pub mod usage;
