//! The run's figures: a JSON report for scripts and a summary for people.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::reconcile::Reconciliation;
use crate::rss::Rss;

#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
    pub count: u64,
}

impl Percentiles {
    /// From a histogram of microseconds, in milliseconds.
    pub fn from_us(histogram: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if histogram.is_empty() {
            return Self {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
                mean: 0.0,
                count: 0,
            };
        }
        Self {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
            mean: ms(histogram.mean() as u64),
            count: histogram.len(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run_id: String,
    pub target: String,
    /// "open" or "closed".
    pub model: &'static str,
    pub rate: Option<u32>,
    pub connections: Option<usize>,
    pub tenants: usize,
    pub idle_tenants: usize,
    pub duration_s: f64,
    pub sent: u64,
    /// Answered 2xx.
    pub accepted: u64,
    /// Answered 4xx.
    pub rejected: u64,
    /// Answered 5xx or not answered.
    pub errors: u64,
    pub abandoned: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub accepted_per_sec: f64,
    /// The same model against GET /health/live, measured just before.
    pub baseline_per_sec: Option<f64>,
    /// accepted_per_sec / baseline_per_sec. In the open model both runs are
    /// offered the same rate, so compare the latencies instead.
    pub ratio: Option<f64>,
    pub baseline_latency_ms: Option<Percentiles>,
    pub ingest_latency_ms: Percentiles,
    /// From the moment a request was sent to its first delivery at the sink.
    pub e2e_latency_ms: Percentiles,
    /// lost, duplicated, out_of_order and the rest, at the report's top level.
    #[serde(flatten)]
    pub reconciliation: Reconciliation,
    /// Events the server still held undelivered when the run ended (down tenants excepted).
    pub orphaned: u64,
    pub sink_attempts: u64,
    pub sink_malformed: u64,
    /// From the end of the load until everything acknowledged had arrived.
    pub drain_s: f64,
    pub server_rss_start_mb: Option<f64>,
    pub server_peak_rss_mb: Option<f64>,
    pub server_rss_end_mb: Option<f64>,
    pub passed: bool,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.passed
    }

    pub fn judge(&mut self) {
        self.passed = self.reconciliation.sound() && self.orphaned == 0 && self.sink_malformed == 0;
    }

    pub fn set_rss(&mut self, rss: Rss) {
        let mb = |kb: Option<u64>| kb.map(|kb| (kb as f64 / 1024.0 * 10.0).round() / 10.0);
        self.server_rss_start_mb = mb(rss.start_kb);
        self.server_peak_rss_mb = mb(rss.peak_kb);
        self.server_rss_end_mb = mb(rss.last_kb);
    }

    pub fn summary(&self) -> String {
        let lat = |p: &Percentiles| {
            format!(
                "p50 {:.2} · p90 {:.2} · p99 {:.2} · p99.9 {:.2} · max {:.2} ms",
                p.p50, p.p90, p.p99, p.p999, p.max
            )
        };
        let model = match (self.rate, self.connections) {
            (Some(rate), _) => format!("open model, {rate} req/s"),
            (_, Some(c)) => format!("closed model, {c} connections"),
            _ => String::new(),
        };
        let baseline = match (self.baseline_per_sec, self.ratio) {
            (Some(b), Some(r)) => format!("baseline /health/live {b:.0}/s · ratio {r:.3}"),
            _ => "baseline not measured".into(),
        };
        let rss = match (
            self.server_rss_start_mb,
            self.server_peak_rss_mb,
            self.server_rss_end_mb,
        ) {
            (Some(s), Some(p), Some(e)) => format!("server RSS {s} → peak {p} → end {e} MB"),
            _ => "server RSS unknown (no --server-pid)".into(),
        };
        format!(
            "orderhook-loadtest {run} → {target}: {model}, {tenants} tenants, {dur:.1}s\n\
             sent {sent} · accepted {acc} · rejected {rej} · errors {err} · abandoned {ab} · statuses {st:?}\n\
             accepted {aps:.0}/s · {baseline}\n\
             ingest {ingest}\n\
             e2e    {e2e}\n\
             delivered {del} · lost {lost} · duplicated {dup} · out of order {ooo} · gaps {gaps} · orphaned {orph} · undeliverable {und} · delivered unacknowledged {unack}\n\
             drained in {drain:.1}s · {rss}\n\
             {verdict}",
            run = self.run_id,
            target = self.target,
            tenants = self.tenants,
            dur = self.duration_s,
            sent = self.sent,
            acc = self.accepted,
            rej = self.rejected,
            err = self.errors,
            ab = self.abandoned,
            st = self.statuses,
            aps = self.accepted_per_sec,
            ingest = lat(&self.ingest_latency_ms),
            e2e = lat(&self.e2e_latency_ms),
            del = self.reconciliation.delivered,
            lost = self.reconciliation.lost,
            dup = self.reconciliation.duplicated,
            ooo = self.reconciliation.out_of_order,
            gaps = self.reconciliation.sequence_gaps,
            orph = self.orphaned,
            und = self.reconciliation.undeliverable,
            unack = self.reconciliation.delivered_unacknowledged,
            drain = self.drain_s,
            verdict = if self.passed {
                "PASS: nothing lost, nothing out of order"
            } else {
                "FAIL: see lost / out of order / gaps / orphaned above"
            },
        )
    }
}
