//! The data lifecycle: expired events go, with their attempts, while ingest
//! goes on; a pending or retrying event never does, and is still delivered.

use std::time::Duration;

use orderhook_actors::domain::{EventId, EventStatus};
use uuid::Uuid;

use crate::helpers::{StoreKind, TestApp, eventually, json_body, order_body};
use crate::sink::Sink;

/// One-second partitions, kept two seconds, a pass every 200 ms.
const FAST_RETENTION: [(&str, &str); 4] = [
    ("ORDERHOOK_RETENTION__MAX_AGE_S", "2"),
    ("ORDERHOOK_RETENTION__PARTITION_SPAN_S", "1"),
    ("ORDERHOOK_RETENTION__PARTITIONS_AHEAD", "3"),
    ("ORDERHOOK_RETENTION__INTERVAL_MS", "200"),
];

async fn accept(app: &TestApp, provider: &str, client: &str, secret: &str, kind: &str) -> EventId {
    let response = app
        .send_signed(provider, client, secret, &order_body(kind))
        .await;
    assert_eq!(response.status(), 200);
    let id = json_body(response).await["eventId"]
        .as_str()
        .unwrap()
        .to_owned();
    EventId(Uuid::parse_str(&id).unwrap())
}

async fn partitions(app: &TestApp) -> Vec<String> {
    let db = app.db.as_ref().unwrap();
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'webhook_logs'::regclass",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

async fn retention_keeps_only_what_is_pending_while_ingest_goes_on(kind: StoreKind) {
    let postgres = matches!(kind, StoreKind::Postgres);
    let app = TestApp::spawn_with(kind, &FAST_RETENTION).await;
    let healthy = Sink::start().await;
    let down = Sink::start().await;
    down.answer_by_default(503);
    let ok_secret = app
        .register_to("c1", "careem", &["order.created"], &healthy.url)
        .await;
    let down_secret = app
        .register_to("c2", "jahez", &["order_action"], &down.url)
        .await;

    let delivered = accept(&app, "careem", "c1", &ok_secret, "order.created").await;
    assert!(healthy.wait_for_accepted(1, Duration::from_secs(5)).await);
    // In a later one-second partition than `delivered`.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let pending = accept(&app, "jahez", "c2", &down_secret, "order_action").await;

    // Ingest goes on while partitions are created and dropped.
    let ingesting = {
        let app_base = app.base.clone();
        let secret = ok_secret.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut answered = Vec::new();
            for _ in 0..40 {
                let body = order_body("order.created");
                let request = http.post(format!("{app_base}/webhooks/careem/c1"));
                let response = crate::helpers::sign(request, "careem", "c1", &secret, &body)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                answered.push(response.status().as_u16());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            answered
        })
    };

    let store = app.store();
    assert!(
        eventually(Duration::from_secs(10), || async {
            store.find_event(delivered).await.unwrap().is_none()
        })
        .await,
        "the delivered event expired and went"
    );
    let kept = store
        .find_event(pending)
        .await
        .unwrap()
        .expect("pending event kept");
    assert_eq!(kept.status, EventStatus::Retrying);
    assert!(
        store.event_attempts(delivered).await.unwrap().is_empty(),
        "its attempts went with it"
    );

    let answered = ingesting.await.unwrap();
    assert!(answered.iter().all(|s| *s == 200), "{answered:?}");

    down.answer_by_default(200);
    // Watched at the sink: once delivered, the event is expired and may go at once.
    assert!(
        down.wait_for_accepted(1, Duration::from_secs(10)).await,
        "the kept event is still delivered"
    );
    assert_eq!(down.accepted_ids(), [pending.to_string()]);
    if postgres {
        let names = partitions(&app).await;
        assert!(
            !names.iter().any(|n| n.starts_with("webhook_logs_p0_")),
            "the first partition was dropped: {names:?}"
        );
        assert!(
            names.len() >= 3,
            "partitions are kept ready ahead: {names:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_drops_expired_partitions_but_not_one_holding_a_pending_event() {
    retention_keeps_only_what_is_pending_while_ingest_goes_on(StoreKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_deletes_expired_events_but_not_pending_ones() {
    retention_keeps_only_what_is_pending_while_ingest_goes_on(StoreKind::Embedded).await;
}
