//! A stand-in for a restaurant's POS endpoint: a real HTTP server on loopback
//! that records every delivery and answers whatever status a test plans.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
    /// What the sink answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("deliveries are JSON")
    }

    pub fn event_id(&self) -> String {
        self.json()["id"].as_str().expect("envelope id").to_owned()
    }
}

#[derive(Default)]
struct Plan {
    /// Statuses to answer next, in order; then `default`.
    next: VecDeque<u16>,
    default: u16,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Sink {
    pub url: String,
    plan: Arc<Mutex<Plan>>,
}

impl Sink {
    pub async fn start() -> Self {
        let plan = Arc::new(Mutex::new(Plan {
            default: 200,
            ..Plan::default()
        }));
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(plan.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/hook"),
            plan,
        }
    }

    /// Answers `status` to the next `times` deliveries.
    pub fn fail_next(&self, times: usize, status: u16) {
        let mut plan = self.plan.lock().unwrap();
        plan.next.extend(std::iter::repeat_n(status, times));
    }

    /// Answers `status` whenever nothing else is planned.
    pub fn answer_by_default(&self, status: u16) {
        self.plan.lock().unwrap().default = status;
    }

    pub fn received(&self) -> Vec<Received> {
        self.plan.lock().unwrap().received.clone()
    }

    /// The event ids of deliveries the sink accepted (answered 2xx), in arrival order.
    pub fn accepted_ids(&self) -> Vec<String> {
        self.received()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(Received::event_id)
            .collect()
    }

    /// Waits until the sink has accepted `count` deliveries.
    pub async fn wait_for_accepted(&self, count: usize, within: Duration) -> bool {
        crate::helpers::eventually(within, || async { self.accepted_ids().len() >= count }).await
    }
}

async fn receive(
    State(plan): State<Arc<Mutex<Plan>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut plan = plan.lock().unwrap();
    let status = plan.next.pop_front().unwrap_or(plan.default);
    plan.received.push(Received {
        headers,
        body,
        at: Instant::now(),
        status,
    });
    StatusCode::from_u16(status).unwrap()
}
