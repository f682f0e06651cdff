//! Offers the load: the open model schedules requests by the clock (latency
//! counts from the scheduled moment, so a slow server cannot hide queueing by
//! slowing the generator down); the closed model keeps C requests in flight.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use tokio::io::AsyncWriteExt as _;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::options::Model;
use crate::payload::OrderId;
use crate::tenants::Tenant;

/// One request answered 200: the server committed it and must deliver it.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub order: OrderId,
    pub event_id: String,
    pub sent_at: Instant,
}

/// What the generator counts while it runs.
pub struct Counters {
    pub sent: AtomicU64,
    pub accepted: AtomicU64,
    /// Answered 4xx.
    pub rejected: AtomicU64,
    /// Answered 5xx, or no answer at all.
    pub errors: AtomicU64,
    /// Cut on purpose before the answer was read.
    pub abandoned: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
    /// Microseconds from the scheduled (open) or sent (closed) moment to the answer.
    latency_us: Mutex<Histogram<u64>>,
    accepted_events: Mutex<Vec<Accepted>>,
}

impl Counters {
    pub fn new() -> Self {
        Self {
            sent: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            statuses: Mutex::new(BTreeMap::new()),
            latency_us: Mutex::new(new_histogram()),
            accepted_events: Mutex::new(Vec::new()),
        }
    }

    fn answered(&self, status: u16, latency: Duration) {
        match status {
            200..=299 => &self.accepted,
            400..=499 => &self.rejected,
            _ => &self.errors,
        }
        .fetch_add(1, Ordering::Relaxed);
        *self
            .statuses
            .lock()
            .expect("lock")
            .entry(status)
            .or_default() += 1;
        record(&self.latency_us, latency);
    }

    fn unanswered(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        self.statuses.lock().expect("lock").clone()
    }

    pub fn latency(&self) -> Histogram<u64> {
        self.latency_us.lock().expect("lock").clone()
    }

    pub fn take_accepted(&self) -> Vec<Accepted> {
        std::mem::take(&mut *self.accepted_events.lock().expect("lock"))
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

/// Microsecond histogram up to one hour, three significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

pub fn record(histogram: &Mutex<Histogram<u64>>, latency: Duration) {
    let us = (latency.as_micros() as u64).clamp(1, 3_600_000_000);
    histogram.lock().expect("lock").saturating_record(us);
}

/// Everything a request needs; shared by all of them.
pub struct Generator {
    pub client: reqwest::Client,
    pub target: String,
    /// host:port of the target, for requests cut by hand.
    pub authority: String,
    pub run: u32,
    pub tenants: Vec<Tenant>,
    pub abandon_rate: f64,
    pub counters: Counters,
}

impl Generator {
    /// Sends request number `n` to tenant `n mod T`.
    pub async fn ingest(&self, n: u64, started: Instant) {
        let tenant = &self.tenants[(n % self.tenants.len() as u64) as usize];
        let order = OrderId {
            run: self.run,
            tenant: tenant.index,
            n,
        };
        let body = tenant.template.body(&order);
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let headers = tenant
            .provider
            .sign(&tenant.client_id, &tenant.secret, &body, unix_now);
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        if self.abandon_rate > 0.0 && rand::random_bool(self.abandon_rate) {
            self.abandon(&tenant.path, &headers, &body, n).await;
            return;
        }
        let mut request = self
            .client
            .post(format!("{}{}", self.target, tenant.path))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(_) => return self.counters.unanswered(),
        };
        let status = response.status().as_u16();
        let text = match response.text().await {
            Ok(text) => text,
            Err(_) => return self.counters.unanswered(),
        };
        self.counters.answered(status, started.elapsed());
        if status == 200 {
            let event_id = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["eventId"].as_str().map(str::to_owned))
                .unwrap_or_default();
            self.counters
                .accepted_events
                .lock()
                .expect("lock")
                .push(Accepted {
                    order,
                    event_id,
                    sent_at: started,
                });
        }
    }

    /// The same request on a connection of its own, closed before the answer
    /// is read: half of them after the whole body, half in the middle of it.
    async fn abandon(&self, path: &str, headers: &[(&str, String)], body: &[u8], n: u64) {
        self.counters.abandoned.fetch_add(1, Ordering::Relaxed);
        let Ok(mut stream) = tokio::net::TcpStream::connect(&self.authority).await else {
            return;
        };
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            self.authority,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let cut = if n.is_multiple_of(2) {
            body.len()
        } else {
            body.len() / 2
        };
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&body[..cut]).await;
        let _ = stream.flush().await;
    }

    /// The baseline's request: a trivial endpoint of the same server.
    pub async fn live(&self, started: Instant) {
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}/health/live", self.target);
        match self.client.get(url).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(_) => self.counters.answered(status, started.elapsed()),
                    Err(_) => self.counters.unanswered(),
                }
            }
            Err(_) => self.counters.unanswered(),
        }
    }
}

/// Runs `request(n, started)` under `model` for `duration`, then waits for
/// the requests still in flight. Returns how long the load was offered.
pub async fn drive<F, Fut>(model: Model, duration: Duration, request: F) -> Duration
where
    F: Fn(u64, Instant) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    match model {
        Model::Open { rate } => {
            let mut ticker = tokio::time::interval(Duration::from_millis(1));
            ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
            let mut issued: u64 = 0;
            loop {
                ticker.tick().await;
                let now = Instant::now();
                let due = ((now.min(deadline) - start).as_secs_f64() * f64::from(rate)) as u64;
                while issued < due {
                    let scheduled =
                        start + Duration::from_secs_f64(issued as f64 / f64::from(rate));
                    tasks.spawn(request(issued, scheduled));
                    issued += 1;
                }
                while tasks.try_join_next().is_some() {}
                if now >= deadline {
                    break;
                }
            }
        }
        Model::Closed { connections } => {
            let next = Arc::new(AtomicU64::new(0));
            for _ in 0..connections {
                let next = next.clone();
                let request = request.clone();
                tasks.spawn(async move {
                    while Instant::now() < deadline {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        request(n, Instant::now()).await;
                    }
                });
            }
        }
    }
    // Open: the load was offered when the clock stopped scheduling. Closed: until
    // the last connection's last request, which may end after the deadline.
    let scheduling_ended = start.elapsed();
    while tasks.join_next().await.is_some() {}
    match model {
        Model::Open { .. } => scheduling_ended,
        Model::Closed { .. } => start.elapsed(),
    }
}
