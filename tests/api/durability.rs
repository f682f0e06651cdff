//! A 200 means committed: under many concurrent requests every 200 has
//! exactly one row, and each tenant's sequence numbers are unique and gap-free.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use orderhook_actors::domain::{EventId, TenantKey};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::helpers::{StoreKind, TestApp, json_body, order_body};

/// These tests flood tenants on purpose: rate limits would refuse most of it.
const GENEROUS_LIMITS: &[(&str, &str)] = &[
    ("ORDERHOOK_PROVIDERS__TALABAT__RATE_LIMIT__BURST", "100000"),
    (
        "ORDERHOOK_PROVIDERS__TALABAT__RATE_LIMIT__PER_MINUTE",
        "100000",
    ),
    (
        "ORDERHOOK_PROVIDERS__DELIVEROO__RATE_LIMIT__BURST",
        "100000",
    ),
    (
        "ORDERHOOK_PROVIDERS__DELIVEROO__RATE_LIMIT__PER_MINUTE",
        "100000",
    ),
    ("ORDERHOOK_PROVIDERS__JAHEZ__RATE_LIMIT__BURST", "100000"),
    (
        "ORDERHOOK_PROVIDERS__JAHEZ__RATE_LIMIT__PER_MINUTE",
        "100000",
    ),
    ("ORDERHOOK_PROVIDERS__CAREEM__RATE_LIMIT__BURST", "100000"),
    (
        "ORDERHOOK_PROVIDERS__CAREEM__RATE_LIMIT__PER_MINUTE",
        "100000",
    ),
];

const TENANTS: [(&str, &str, &str); 4] = [
    ("client_a", "careem", "order.created"),
    ("client_b", "talabat", "order_notification"),
    ("client_c", "deliveroo", "order_event"),
    ("client_d", "jahez", "order_action"),
];

/// Fires `per_tenant` requests at every tenant at once; returns the eventIds answered 200, per tenant.
async fn flood(app: &Arc<TestApp>, per_tenant: usize) -> BTreeMap<TenantKey, Vec<EventId>> {
    let mut secrets = Vec::new();
    for (client, provider, event_type) in TENANTS {
        secrets.push((
            client,
            provider,
            event_type,
            app.register(client, provider, &[event_type]).await,
        ));
    }
    let mut requests = JoinSet::new();
    for i in 0..per_tenant {
        for (client, provider, event_type, secret) in &secrets {
            let (app, client, provider, secret) = (app.clone(), *client, *provider, secret.clone());
            // Every fifth event is one the tenant did not subscribe to: sequenced all the same.
            let event_type = if i % 5 == 4 {
                "unsubscribed.type".to_owned()
            } else {
                event_type.to_string()
            };
            requests.spawn(async move {
                let response = app
                    .send_signed(provider, client, &secret, &order_body(&event_type))
                    .await;
                let status = response.status();
                let answer = json_body(response).await;
                (TenantKey::new(client, provider), status, answer)
            });
        }
    }
    let mut accepted: BTreeMap<TenantKey, Vec<EventId>> = BTreeMap::new();
    while let Some(result) = requests.join_next().await {
        let (tenant, status, answer) = result.expect("request task");
        assert_eq!(status, 200, "{answer}");
        let id = Uuid::parse_str(answer["eventId"].as_str().unwrap()).unwrap();
        accepted.entry(tenant).or_default().push(EventId(id));
    }
    accepted
}

async fn assert_all_committed_in_gap_free_order(
    app: &TestApp,
    accepted: &BTreeMap<TenantKey, Vec<EventId>>,
) {
    for (tenant, ids) in accepted {
        let stored = app.store().tenant_events(tenant, 0, 10_000).await.unwrap();
        assert_eq!(
            stored.len(),
            ids.len(),
            "{tenant}: one row per 200, no more"
        );
        let stored_ids: HashSet<EventId> = stored.iter().map(|e| e.id).collect();
        assert_eq!(stored_ids.len(), ids.len(), "{tenant}: ids are unique");
        for id in ids {
            assert!(
                stored_ids.contains(id),
                "{tenant}: acknowledged event {id} is stored"
            );
        }
        let seqs: Vec<i64> = stored.iter().map(|e| e.seq.unwrap()).collect();
        let expected: Vec<i64> = (1..=ids.len() as i64).collect();
        assert_eq!(
            seqs, expected,
            "{tenant}: sequence numbers are 1..=n without gaps"
        );
    }
}

#[tokio::test]
async fn every_200_is_committed_once_with_gap_free_sequences_on_postgres() {
    let app = Arc::new(TestApp::spawn_with(StoreKind::Postgres, GENEROUS_LIMITS).await);
    let accepted = flood(&app, 150).await;
    assert_eq!(accepted.values().map(Vec::len).sum::<usize>(), 600);
    assert_all_committed_in_gap_free_order(&app, &accepted).await;
}

#[tokio::test]
async fn every_200_is_committed_once_with_gap_free_sequences_on_the_embedded_store() {
    let app = Arc::new(TestApp::spawn_with(StoreKind::Embedded, GENEROUS_LIMITS).await);
    let accepted = flood(&app, 50).await;
    assert_all_committed_in_gap_free_order(&app, &accepted).await;
}

#[tokio::test]
async fn small_batches_and_a_batching_delay_keep_the_same_promises() {
    let app = Arc::new(
        TestApp::spawn_with(
            StoreKind::Postgres,
            &[
                GENEROUS_LIMITS,
                &[
                    ("ORDERHOOK_WRITER__MAX_BATCH_ROWS", "7"),
                    ("ORDERHOOK_WRITER__MAX_BATCH_DELAY_MS", "3"),
                ],
            ]
            .concat(),
        )
        .await,
    );
    let accepted = flood(&app, 40).await;
    assert_all_committed_in_gap_free_order(&app, &accepted).await;
}

#[tokio::test]
async fn a_graceful_stop_mid_stream_keeps_every_acknowledged_event() {
    let mut app = TestApp::spawn_with(StoreKind::Postgres, GENEROUS_LIMITS).await;
    let secret = app.register("c1", "careem", &["order.created"]).await;
    let url = app.url("/webhooks/careem/c1");
    let http = app.http.clone();
    let mut requests = JoinSet::new();
    for _ in 0..200 {
        let body = order_body("order.created");
        let request =
            crate::helpers::sign(http.post(&url), "careem", "c1", &secret, &body).body(body);
        requests.spawn(async move {
            let response = request.send().await.ok()?;
            if response.status() != 200 {
                return None;
            }
            let answer = json_body(response).await;
            Some(EventId(Uuid::parse_str(answer["eventId"].as_str()?).ok()?))
        });
    }
    let store = app.store();
    let state = app.state.clone();
    let tenant = TenantKey::new("c1", "careem");
    // Stop once some events are in, while the rest are still on their way.
    let started = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        store.tenant_events(&tenant, 0, 10).await.unwrap().len() >= 10
    })
    .await;
    assert!(started);
    app.stop().await;
    assert!(
        !state.engine.is_running(),
        "the engine stopped with the server"
    );
    let mut acknowledged = Vec::new();
    while let Some(result) = requests.join_next().await {
        acknowledged.extend(result.unwrap());
    }
    let stored: HashSet<EventId> = store
        .tenant_events(&tenant, 0, 1_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert!(
        !acknowledged.is_empty(),
        "some requests finished before the stop"
    );
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged {id} survived the stop");
    }
}
