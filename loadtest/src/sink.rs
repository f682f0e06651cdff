//! The clients' POS endpoints: a real HTTP server on loopback, one path per
//! tenant, that records every delivery it accepts and can be told to fail a
//! fraction of them, to be slow, or to be down for some tenants.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use tokio::time::Instant;

use crate::payload::OrderId;

/// One delivery the sink answered 200.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub order: OrderId,
    pub event_id: String,
    pub sequence: i64,
    pub at: Instant,
}

#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    pub fail_rate: f64,
    pub delay: Duration,
    /// Tenants below this index are answered 503 whatever they send.
    pub down_tenants: usize,
}

struct Shared {
    behaviour: Behaviour,
    /// When failing at `fail_rate` stops; `None`: never.
    recovers_at: Mutex<Option<Instant>>,
    arrivals: Mutex<Vec<Arrival>>,
    attempts: AtomicU64,
    /// Deliveries that were not our envelope around one of our orders.
    malformed: AtomicU64,
}

#[derive(Clone)]
pub struct Sink {
    pub base_url: String,
    shared: Arc<Shared>,
}

impl Sink {
    pub async fn start(behaviour: Behaviour) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            behaviour,
            recovers_at: Mutex::new(None),
            arrivals: Mutex::new(Vec::new()),
            attempts: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/hook/{tenant}", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            base_url: format!("http://{addr}"),
            shared,
        })
    }

    /// Stops failing deliveries at random `after` from now.
    pub fn recover_after(&self, after: Duration) {
        *self.shared.recovers_at.lock().expect("sink lock") = Some(Instant::now() + after);
    }

    pub fn url_for(&self, tenant: usize) -> String {
        format!("{}/hook/{tenant}", self.base_url)
    }

    /// Deliveries accepted so far, in the order they arrived.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.shared.arrivals.lock().expect("sink lock").clone()
    }

    pub fn delivered(&self) -> usize {
        self.shared.arrivals.lock().expect("sink lock").len()
    }

    pub fn attempts(&self) -> u64 {
        self.shared.attempts.load(Ordering::Relaxed)
    }

    pub fn malformed(&self) -> u64 {
        self.shared.malformed.load(Ordering::Relaxed)
    }
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    sequence: i64,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    order: Order,
}

#[derive(Deserialize)]
struct Order {
    id: String,
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<usize>,
    body: Bytes,
) -> StatusCode {
    shared.attempts.fetch_add(1, Ordering::Relaxed);
    let behaviour = shared.behaviour;
    if !behaviour.delay.is_zero() {
        tokio::time::sleep(behaviour.delay).await;
    }
    if tenant < behaviour.down_tenants {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let failing = shared
        .recovers_at
        .lock()
        .expect("sink lock")
        .is_none_or(|at| Instant::now() < at);
    if failing && behaviour.fail_rate > 0.0 && rand::random_bool(behaviour.fail_rate) {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let parsed = serde_json::from_slice::<Envelope>(&body)
        .ok()
        .and_then(|envelope| {
            let order: OrderId = envelope.data.order.id.parse().ok()?;
            (order.tenant == tenant).then_some((envelope, order))
        });
    let Some((envelope, order)) = parsed else {
        shared.malformed.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    };
    shared.arrivals.lock().expect("sink lock").push(Arrival {
        order,
        event_id: envelope.id,
        sequence: envelope.sequence,
        at: Instant::now(),
    });
    StatusCode::OK
}
