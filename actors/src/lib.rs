//! The orderhook engine: how an accepted webhook becomes a committed event.
//!
//! A handler in the HTTP edge authenticates and validates a provider's request,
//! then hands the event to [`Engine::ingest`]. The engine admits it against the
//! tenant's and the writer's bounds and sends it to the tenant's
//! [`tenant::TenantActor`] (started on first use by the [`supervisor`]), which
//! forwards it to the [`writer::WriterActor`]. The writer commits rows from all
//! tenants in one transaction per batch through the [`store::Store`] port,
//! answers each waiting request after COMMIT, and tells each tenant actor about
//! its committed events.
//!
//! - [`domain`]: tenants, events, registrations.
//! - [`store`]: the storage port the edges implement.
//! - [`engine`]: the facade the HTTP edge calls.
//! - [`writer`], [`tenant`], [`supervisor`]: the actors; [`restart`]: restart backoff.

pub mod domain;
pub mod engine;
pub mod restart;
pub mod store;
pub mod supervisor;
pub mod tenant;
pub mod writer;

pub use engine::{Engine, EngineConfig, IngestError};
