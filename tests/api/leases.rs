//! Several instances on one Postgres: any of them accepts a tenant's events,
//! exactly one (the lease holder) delivers them, in sequence order, and a
//! gracefully stopped instance hands its tenants over without waiting for
//! its leases to expire.

use std::collections::HashSet;
use std::time::Duration;

use orderhook_actors::domain::TenantKey;

use crate::helpers::{TestApp, eventually, json_body, order_body};
use crate::sink::Sink;

async fn delivered_here(app: &TestApp, key: &TenantKey) -> u64 {
    app.state
        .engine
        .tenant_health(key)
        .await
        .map_or(0, |health| health.delivered)
}

async fn send(app: &TestApp, secret: &str) {
    for _ in 0..EACH {
        let response = app
            .send_signed("careem", "c1", secret, &order_body("order.created"))
            .await;
        assert_eq!(response.status(), 200);
    }
}

const EACH: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_accepting_one_tenant_number_it_gap_free_and_one_delivers_in_order() {
    let first = TestApp::spawn().await;
    let second = first.spawn_on_same_store(&[]).await;
    let sink = Sink::start().await;
    let secret = first
        .register_to("c1", "careem", &["order.created"], &sink.url)
        .await;
    tokio::join!(send(&first, &secret), send(&second, &secret));

    assert!(
        sink.wait_for_accepted(2 * EACH, Duration::from_secs(15))
            .await,
        "every event delivered"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = sink.received();
    let sequences: Vec<i64> = received
        .iter()
        .map(|r| r.json()["sequence"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (1..=(2 * EACH) as i64).collect();
    assert_eq!(
        sequences, expected,
        "unique, gap-free, delivered in order, once each"
    );
    let ids: HashSet<String> = received.iter().map(|r| r.event_id()).collect();
    assert_eq!(ids.len(), 2 * EACH);

    let key = TenantKey::new("c1", "careem");
    let counts = [
        delivered_here(&first, &key).await,
        delivered_here(&second, &key).await,
    ];
    assert!(
        counts.contains(&0) && counts.contains(&((2 * EACH) as u64)),
        "one instance delivered everything: {counts:?}"
    );
    let mut held = Vec::new();
    for app in [&first, &second] {
        let health = json_body(app.http.get(app.url("/health")).send().await.unwrap()).await;
        let leases = &health["services"]["leases"];
        assert_eq!(leases["shared"], true);
        held.push(leases["held"].as_u64().unwrap());
    }
    held.sort();
    assert_eq!(held, [0, 1], "one instance holds the tenant's lease");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gracefully_stopped_instance_hands_its_tenants_over_before_the_ttl() {
    // A TTL far longer than the test: only the release can explain a quick takeover.
    let long_ttl = [("ORDERHOOK_LEASES__TTL_MS", "60000")];
    let mut first = TestApp::spawn_with(crate::helpers::StoreKind::Postgres, &long_ttl).await;
    let sink = Sink::start().await;
    let secret = first
        .register_to("c1", "jahez", &["order_action"], &sink.url)
        .await;
    let ok = first
        .send_signed("jahez", "c1", &secret, &order_body("order_action"))
        .await;
    assert_eq!(ok.status(), 200);
    assert!(sink.wait_for_accepted(1, Duration::from_secs(10)).await);

    // The first instance holds the lease; the second starts and cannot take it.
    let second = first.spawn_on_same_store(&long_ttl).await;
    sink.answer_by_default(503);
    let stuck = second
        .send_signed("jahez", "c1", &secret, &order_body("order_action"))
        .await;
    assert_eq!(
        stuck.status(),
        200,
        "accepted by the instance without the lease"
    );
    let key = TenantKey::new("c1", "jahez");
    assert!(
        eventually(Duration::from_secs(5), || async {
            sink.received().len() >= 2
        })
        .await,
        "the lease holder picked up the event the other instance committed"
    );
    assert_eq!(delivered_here(&second, &key).await, 0);

    first.stop().await;
    sink.answer_by_default(200);
    let started = tokio::time::Instant::now();
    assert!(
        sink.wait_for_accepted(2, Duration::from_secs(10)).await,
        "the second instance delivers after the first stopped"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "well before the 60 s TTL"
    );
    assert!(
        eventually(Duration::from_secs(2), || async {
            delivered_here(&second, &key).await == 1
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_retry_through_the_instance_without_the_lease_is_delivered_by_the_holder() {
    let no_retries = [("ORDERHOOK_RETRY__MAX_RETRIES", "0")];
    let holder = TestApp::spawn_with(crate::helpers::StoreKind::Postgres, &no_retries).await;
    let sink = Sink::start().await;
    sink.answer_by_default(500);
    let secret = holder
        .register_to("c1", "talabat", &["order_notification"], &sink.url)
        .await;
    let accepted = holder
        .send_signed("talabat", "c1", &secret, &order_body("order_notification"))
        .await;
    let id = json_body(accepted).await["eventId"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = orderhook_actors::domain::EventId(id.parse().unwrap());
    let store = holder.store();
    assert!(
        eventually(Duration::from_secs(10), || async {
            store.find_event(event).await.unwrap().unwrap().status
                == orderhook_actors::domain::EventStatus::Failed
        })
        .await,
        "dead after its one attempt"
    );

    let other = holder.spawn_on_same_store(&no_retries).await;
    sink.answer_by_default(200);
    let retried = other
        .http
        .post(other.url(&format!("/api/webhooks/retry/{id}")))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(retried.status().is_success(), "{}", retried.status());
    assert!(
        sink.wait_for_accepted(1, Duration::from_secs(10)).await,
        "the lease holder delivered the event put back through the other instance"
    );
    let key = TenantKey::new("c1", "talabat");
    assert_eq!(delivered_here(&other, &key).await, 0);
    assert_eq!(delivered_here(&holder, &key).await, 1);
}
