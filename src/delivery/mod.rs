//! Delivery to the client's endpoint: the HTTP client the tenant actors call
//! through the engine's `Deliverer` port, its Standard Webhooks signing, and
//! the destination rules that keep it off private networks.

pub mod client;
pub mod destination;
pub mod signing;

pub use client::HttpDeliverer;
