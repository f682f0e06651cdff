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
//! - [`lease`]: which tenants this instance delivers when several share a store.
//! - [`delivery`]: the port the HTTP delivery client implements; [`queue`]: a
//!   tenant's delivery order and window; [`retry`]: the retry policy.
//!
//! After the commit, the tenant actor delivers the event: the head of its
//! queue goes out through the [`delivery::Deliverer`], one attempt at a time,
//! retried on a timer per the [`retry::RetryPolicy`] until delivered or dead,
//! each attempt recorded through the writer.

pub mod delivery;
pub mod domain;
pub mod engine;
pub mod lease;
pub mod limiter;
pub mod metrics;
pub mod overrides;
pub mod queue;
pub mod restart;
pub mod retry;
pub mod sampler;
pub mod store;
pub mod supervisor;
pub mod tenant;
pub mod writer;

pub use engine::{Engine, EngineConfig, IngestError};
