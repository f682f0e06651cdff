//! orderhook: a webhook gateway between delivery platforms and restaurants.
//!
//! A provider's webhook arrives at [`http`] (`POST /webhooks/{provider}/{clientId}`),
//! is authenticated by its provider's check in [`providers`], validated, and
//! handed to the engine (the `orderhook-actors` crate), which commits it
//! through a [`store`] before the handler answers. The tenant's actor then
//! forwards it, in order, through [`delivery`] to the restaurant's endpoint.
//!
//! - [`config`]: layered, validated settings.
//! - [`app`]: wiring and shutdown.
//! - [`http`]: routes, handlers, the error format; [`server`]: the
//!   connection loop with its timeouts.
//! - [`providers`]: one file per provider, and payload validation.
//! - [`store`]: Postgres and the embedded SQLite store, and their migrations.
//! - [`delivery`]: the HTTP client that forwards events to the restaurant,
//!   Standard Webhooks signing, and the private-network guard.
//! - [`registrations`]: the short-lived cache of tenants' registrations.
//! - [`retention`]: the background pass that keeps the data's size in check.
//! - [`secrets`]: generated secrets and tokens; [`cipher`]: secrets encrypted at rest.
//! - [`client_id`]: what a clientId may be; [`telemetry`]: Prometheus metrics.

pub mod app;
pub mod cipher;
pub mod client_id;
pub mod config;
pub mod delivery;
pub mod http;
pub mod providers;
pub mod registrations;
pub mod retention;
pub mod secrets;
pub mod server;
pub mod store;
pub mod telemetry;
