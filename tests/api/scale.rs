//! Log and stats queries on a million events. Slow to seed (tens of
//! seconds), so it runs only when asked:
//!
//!     cargo test --release --test api -- --ignored --nocapture logs_and_stats_at_a_million_rows
//!
//! It prints each query's time (the figures in BENCHMARKS.md) and asserts
//! only what the answers must be, never how fast they came.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use orderhook_actors::domain::{EventFilter, EventStatus, TenantKey};

use crate::helpers::TestApp;

const ROWS: usize = 1_000_000;
const TENANTS: usize = 200;

async fn timed<T>(label: &str, runs: u32, mut query: impl AsyncFnMut() -> T) -> T {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        last = Some(query().await);
        best = best.min(started.elapsed());
    }
    println!("| {label} | {:.2} ms |", best.as_secs_f64() * 1000.0);
    last.expect("at least one run")
}

#[tokio::test]
#[ignore = "seeds a million rows; run explicitly (see the module docs)"]
async fn logs_and_stats_at_a_million_rows() {
    let app = TestApp::spawn().await;
    let mut webhooks = Vec::new();
    for t in 0..TENANTS {
        app.register(&format!("client{t}"), "careem", &["order.created"])
            .await;
        let registration = app
            .store()
            .find_registration(&TenantKey::new(format!("client{t}"), "careem"))
            .await
            .unwrap()
            .unwrap();
        webhooks.push(registration.webhook_id);
    }
    let db = app.db.as_ref().unwrap().client().await;
    let seeding = Instant::now();
    let sink = db
        .copy_in(
            "COPY webhook_logs (id, webhook_id, provider, client_id, event_type, status, seq,
                                payload, created_at, delivered_at, response_time) FROM STDIN",
        )
        .await
        .unwrap();
    let mut sink = Box::pin(sink);
    let statuses = [
        "delivered",
        "delivered",
        "delivered",
        "delivered",
        "failed",
        "ignored",
        "rejected",
    ];
    let mut buffer = String::with_capacity(8 << 20);
    for row in 0..ROWS {
        let tenant = row % TENANTS;
        let status = statuses[row % statuses.len()];
        // Spread over 60 days, newest last.
        let age_s = ((ROWS - row) as f64 * 60.0 * 86_400.0 / ROWS as f64) as i64;
        let at = time::OffsetDateTime::now_utc() - time::Duration::seconds(age_s);
        let at = at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let seq = if status == "rejected" {
            "\\N".to_owned()
        } else {
            (row / TENANTS + 1).to_string()
        };
        let delivered = if status == "delivered" {
            at.clone()
        } else {
            "\\N".to_owned()
        };
        buffer.push_str(&format!(
            "{}\t{}\tcareem\tclient{tenant}\torder.created\t{status}\t{seq}\t{{\"event_type\":\"order.created\",\"n\":{row}}}\t{at}\t{delivered}\t{}\n",
            uuid::Uuid::now_v7(),
            webhooks[tenant],
            40 + row % 100,
        ));
        if buffer.len() > (4 << 20) {
            sink.send(bytes::Bytes::from(std::mem::take(&mut buffer)))
                .await
                .unwrap();
        }
    }
    sink.send(bytes::Bytes::from(buffer)).await.unwrap();
    let copied = sink.as_mut().finish().await.unwrap();
    assert_eq!(copied as usize, ROWS);
    db.batch_execute("ANALYZE webhook_logs").await.unwrap();
    println!(
        "seeded {ROWS} rows in {:.1} s\n",
        seeding.elapsed().as_secs_f64()
    );
    println!("| query | best of 5 |\n|---|---|");

    let store = app.store();
    let all = timed("logs, no filter, first page", 5, async || {
        store
            .list_events(&EventFilter::default(), 20, 0, 10_000)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(
        (all.events.len(), all.total, all.total_capped),
        (20, 10_000, true)
    );
    let one_client = EventFilter {
        client_id: Some("client7".into()),
        ..EventFilter::default()
    };
    let page = timed("logs, one client, first page", 5, async || {
        store.list_events(&one_client, 20, 0, 10_000).await.unwrap()
    })
    .await;
    assert_eq!(page.total, (ROWS / TENANTS) as i64);
    timed("logs, one client, offset 4000", 5, async || {
        store
            .list_events(&one_client, 20, 4000, 10_000)
            .await
            .unwrap()
    })
    .await;
    let failed = EventFilter {
        status: Some(EventStatus::Failed),
        ..EventFilter::default()
    };
    timed("logs, status failed, first page", 5, async || {
        store.list_events(&failed, 20, 0, 10_000).await.unwrap()
    })
    .await;
    let last_day = EventFilter {
        since: Some(time::OffsetDateTime::now_utc() - time::Duration::days(1)),
        ..EventFilter::default()
    };
    let counts = timed("stats, all clients, last day", 5, async || {
        store.count_events(&last_day).await.unwrap()
    })
    .await;
    let day_total: i64 = counts.rows.iter().map(|r| r.2).sum();
    assert!(day_total > 0);
    let last_month = EventFilter {
        since: Some(time::OffsetDateTime::now_utc() - time::Duration::days(30)),
        ..EventFilter::default()
    };
    timed("stats, all clients, last month", 3, async || {
        store.count_events(&last_month).await.unwrap()
    })
    .await;
    let client_month = EventFilter {
        client_id: Some("client7".into()),
        ..last_month.clone()
    };
    timed("stats, one client, last month", 5, async || {
        store.count_events(&client_month).await.unwrap()
    })
    .await;
    timed("tenant backlog (health)", 5, async || {
        store
            .tenant_backlog(&TenantKey::new("client7", "careem"))
            .await
            .unwrap()
    })
    .await;
}
