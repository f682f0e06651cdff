//! Short runs of the load tester against the real app: its reconciliation is
//! the end-to-end check that every acknowledged event is delivered once and
//! in order, whichever store, sink behaviour or client misbehaviour.

use std::time::Duration;

use orderhook_loadtest::{Options, Report};

use crate::helpers::{ADMIN_TOKEN, StoreKind, TestApp};

/// A failing tenant is probed this often instead of once a minute, so a
/// flaky sink's unlucky streaks do not stall the drain.
const QUICK_PROBES: (&str, &str) = ("ORDERHOOK_DELIVERY__PROBE_INTERVAL_MS", "200");

fn short_run(app: &TestApp) -> Options {
    let mut options = Options::new(app.base.clone(), ADMIN_TOKEN);
    options.tenants = 8;
    options.connections = Some(8);
    options.duration = Duration::from_secs(2);
    options.baseline_duration = Some(Duration::from_millis(500));
    options.drain_timeout = Duration::from_secs(30);
    options.quiet = true;
    options
}

async fn run(options: Options) -> Report {
    orderhook_loadtest::run(options)
        .await
        .expect("load test runs")
}

fn assert_sound(report: &Report) {
    assert!(report.accepted > 0, "{}", report.summary());
    assert_eq!(report.reconciliation.lost, 0, "{}", report.summary());
    assert_eq!(
        report.reconciliation.out_of_order,
        0,
        "{}",
        report.summary()
    );
    assert_eq!(
        report.reconciliation.sequence_gaps,
        0,
        "{}",
        report.summary()
    );
    assert_eq!(report.orphaned, 0, "{}", report.summary());
    assert!(report.passed(), "{}", report.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_model_run_on_postgres_delivers_every_accepted_event_once_in_order() {
    let app = TestApp::spawn_with(StoreKind::Postgres, &[QUICK_PROBES]).await;
    let report = run(short_run(&app)).await;
    assert_sound(&report);
    assert_eq!(
        report.reconciliation.duplicated, 0,
        "no crash, so no redelivery"
    );
    assert_eq!(report.errors, 0, "{}", report.summary());
    assert_eq!(report.reconciliation.delivered, report.accepted);
    assert_eq!(report.e2e_latency_ms.count, report.accepted);
    assert!(report.baseline_per_sec.unwrap() > 0.0);
    assert!(report.ratio.unwrap() > 0.0);
    assert!(report.ingest_latency_ms.p50 <= report.ingest_latency_ms.p99);
    assert!(report.ingest_latency_ms.p99 <= report.ingest_latency_ms.max);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_model_run_on_the_embedded_store_delivers_everything() {
    let app = TestApp::spawn_with(StoreKind::Embedded, &[QUICK_PROBES]).await;
    let mut options = short_run(&app);
    options.connections = None;
    options.rate = Some(200);
    let report = run(options).await;
    assert_sound(&report);
    assert_eq!(report.model, "open");
    // The clock schedules 400 requests in 2 s, whatever the answers' pace.
    assert!((380..=400).contains(&report.sent), "{}", report.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_sink_and_cut_connections_lose_nothing_and_orphan_nothing() {
    let app = TestApp::spawn_with(StoreKind::Postgres, &[QUICK_PROBES]).await;
    let mut options = short_run(&app);
    options.sink_fail_rate = 0.3;
    options.abandon_rate = 0.1;
    let report = run(options).await;
    assert_sound(&report);
    assert!(report.abandoned > 0, "{}", report.summary());
    assert!(
        report.sink_attempts > report.reconciliation.delivered,
        "failed attempts were retried: {}",
        report.summary()
    );
    // Cut requests the server committed anyway were delivered too, not left behind.
    assert_eq!(
        report.reconciliation.delivered,
        report.accepted + report.reconciliation.delivered_unacknowledged
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_endpoint_is_down_is_reported_and_holds_up_no_one_else() {
    let app = TestApp::spawn_with(StoreKind::Postgres, &[QUICK_PROBES]).await;
    let mut options = short_run(&app);
    options.tenants = 4;
    options.down_tenants = 1;
    let report = run(options).await;
    assert_sound(&report);
    assert!(
        report.reconciliation.undeliverable > 0,
        "{}",
        report.summary()
    );
    assert_eq!(
        report.reconciliation.delivered + report.reconciliation.undeliverable,
        report.accepted
    );
}
