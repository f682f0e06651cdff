//! Delivery to the client's endpoint, against a real HTTP sink: order,
//! signatures, retries, dead events, manual retry, isolation between tenants,
//! restarts, and providers that hang up early.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use orderhook_actors::domain::{EventId, EventStatus, TenantKey};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::helpers::{ADMIN_TOKEN, StoreKind, TestApp, eventually, json_body, order_body};
use crate::sink::Sink;

const FAST_RETRIES: &[(&str, &str)] = &[
    ("ORDERHOOK_RETRY__RETRY_DELAYS_MS", "100,200"),
    ("ORDERHOOK_RETRY__MAX_RETRIES", "3"),
    ("ORDERHOOK_RETRY__JITTER", "0.0"),
];

async fn app_with(overrides: &[(&str, &str)]) -> TestApp {
    let mut all = FAST_RETRIES.to_vec();
    all.extend_from_slice(overrides);
    TestApp::spawn_with(StoreKind::Postgres, &all).await
}

async fn accept(app: &TestApp, client: &str, secret: &str, event_type: &str) -> EventId {
    let response = app
        .send_signed("careem", client, secret, &order_body(event_type))
        .await;
    assert_eq!(response.status(), 200);
    let answer = json_body(response).await;
    EventId(Uuid::parse_str(answer["eventId"].as_str().unwrap()).unwrap())
}

async fn status_of(app: &TestApp, id: EventId) -> EventStatus {
    app.store().find_event(id).await.unwrap().unwrap().status
}

async fn wait_for_status(app: &TestApp, id: EventId, status: EventStatus) -> bool {
    eventually(Duration::from_secs(10), || async {
        status_of(app, id).await == status
    })
    .await
}

/// The Standard Webhooks signature, computed here independently of src/delivery.
fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

#[tokio::test]
async fn events_arrive_in_order_once_each_with_verifiable_signatures() {
    let sink = Sink::start().await;
    let app = Arc::new(app_with(&[]).await);
    let secret = app
        .register_to("c1", "careem", &["order.created"], &sink.url)
        .await;
    let mut sent = Vec::new();
    for _ in 0..20 {
        let body = order_body("order.created");
        let response = app.send_signed("careem", "c1", &secret, &body).await;
        assert_eq!(response.status(), 200);
        let id = json_body(response).await["eventId"]
            .as_str()
            .unwrap()
            .to_owned();
        sent.push((id, body));
    }
    assert!(sink.wait_for_accepted(20, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let received = sink.received();
    assert_eq!(received.len(), 20, "each event once");
    let ids: Vec<String> = received.iter().map(|r| r.event_id()).collect();
    let expected: Vec<String> = sent.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, expected, "in acceptance order");

    let sequences: Vec<i64> = received
        .iter()
        .map(|r| r.json()["sequence"].as_i64().expect("sequence"))
        .collect();
    assert_eq!(
        sequences,
        (1..=20).collect::<Vec<i64>>(),
        "consecutive from 1"
    );

    for (delivery, (id, body)) in received.iter().zip(&sent) {
        let header = |name: &str| delivery.headers[name].to_str().unwrap().to_owned();
        assert_eq!(header("webhook-id"), *id);
        let timestamp = header("webhook-timestamp");
        let age =
            time::OffsetDateTime::now_utc().unix_timestamp() - timestamp.parse::<i64>().unwrap();
        assert!((0..60).contains(&age));
        assert_eq!(
            header("webhook-signature"),
            expected_signature(&secret, id, &timestamp, &delivery.body)
        );
        assert_eq!(header("content-type"), "application/json");
        let envelope = delivery.json();
        let sent: Value = serde_json::from_str(body).unwrap();
        assert_eq!(envelope["id"], *id);
        assert_eq!(envelope["provider"], "careem");
        assert_eq!(envelope["clientId"], "c1");
        assert_eq!(envelope["type"], "order.created");
        assert!(envelope["receivedAt"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            envelope["data"], sent["data"],
            "the provider's data, untouched"
        );
    }
    let last = EventId(Uuid::parse_str(&sent[19].0).unwrap());
    assert!(wait_for_status(&app, last, EventStatus::Delivered).await);
    let attempts = app.store().event_attempts(last).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status_code, Some(200));
}

#[tokio::test]
async fn a_failing_head_is_retried_on_schedule_and_later_events_wait_for_it() {
    let sink = Sink::start().await;
    sink.fail_next(2, 500);
    let app = app_with(&[]).await;
    let secret = app
        .register_to("c1", "careem", &["order.created"], &sink.url)
        .await;
    let first = accept(&app, "c1", &secret, "order.created").await;
    let second = accept(&app, "c1", &secret, "order.created").await;
    assert!(sink.wait_for_accepted(2, Duration::from_secs(10)).await);

    let received = sink.received();
    let order: Vec<(String, u16)> = received.iter().map(|r| (r.event_id(), r.status)).collect();
    let (a, b) = (first.to_string(), second.to_string());
    assert_eq!(
        order,
        [(a.clone(), 500), (a.clone(), 500), (a, 200), (b, 200)],
        "the second waits"
    );
    let gaps: Vec<Duration> = received.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps[0] >= Duration::from_millis(100),
        "first retry after 100 ms: {gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_millis(200),
        "second retry after 200 ms: {gaps:?}"
    );

    assert!(wait_for_status(&app, first, EventStatus::Delivered).await);
    let attempts = app.store().event_attempts(first).await.unwrap();
    let codes: Vec<Option<i32>> = attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), Some(500), Some(200)]);
    assert_eq!(
        attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let stored = app.store().find_event(first).await.unwrap().unwrap();
    assert_eq!(stored.attempts, 3);
    assert!(stored.delivered_at.is_some());
}

#[tokio::test]
async fn a_dead_event_lets_the_queue_move_on_and_a_manual_retry_delivers_it() {
    let sink = Sink::start().await;
    sink.fail_next(2, 503);
    let app = app_with(&[("ORDERHOOK_RETRY__MAX_RETRIES", "1")]).await;
    let secret = app
        .register_to("c1", "careem", &["order.created"], &sink.url)
        .await;
    let doomed = accept(&app, "c1", &secret, "order.created").await;
    let next = accept(&app, "c1", &secret, "order.created").await;
    assert!(wait_for_status(&app, doomed, EventStatus::Failed).await);
    assert!(wait_for_status(&app, next, EventStatus::Delivered).await);
    assert_eq!(
        app.store().event_attempts(doomed).await.unwrap().len(),
        2,
        "1 + max_retries"
    );

    let retry = |id: String, token: Option<&str>| {
        let mut request = app.http.post(app.url(&format!("/api/webhooks/retry/{id}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(retry(doomed.to_string(), None).await.unwrap().status(), 401);
    let response = retry(doomed.to_string(), Some(ADMIN_TOKEN)).await.unwrap();
    assert_eq!(response.status(), 200);
    let answer = json_body(response).await;
    assert_eq!(answer["success"], true);
    assert_eq!(answer["message"], "Webhook retry initiated");
    assert_eq!(answer["logId"], doomed.to_string());
    assert!(wait_for_status(&app, doomed, EventStatus::Delivered).await);
    assert_eq!(
        sink.accepted_ids()
            .iter()
            .filter(|id| **id == doomed.to_string())
            .count(),
        1
    );

    let again = retry(doomed.to_string(), Some(ADMIN_TOKEN)).await.unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(json_body(again).await["error"]["code"], "not_failed");
    for unknown in [Uuid::now_v7().to_string(), "not-an-id".to_owned()] {
        let response = retry(unknown, Some(ADMIN_TOKEN)).await.unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(json_body(response).await["error"]["code"], "unknown_event");
    }
}

#[tokio::test]
async fn a_dead_endpoint_holds_up_only_its_own_tenant() {
    let sink = Sink::start().await;
    // A port nothing listens on: every attempt is refused at once.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let app = app_with(&[("ORDERHOOK_RETRY__MAX_RETRIES", "50")]).await;
    let dead = app
        .register_to("dead", "careem", &["order.created"], &closed)
        .await;
    let live = app
        .register_to("live", "careem", &["order.created"], &sink.url)
        .await;
    for _ in 0..5 {
        accept(&app, "dead", &dead, "order.created").await;
    }
    let started = tokio::time::Instant::now();
    for _ in 0..5 {
        accept(&app, "live", &live, "order.created").await;
    }
    assert!(sink.wait_for_accepted(5, Duration::from_secs(5)).await);
    // A liveness bound, generous for a loaded two-core CI machine: the dead
    // tenant's retries must not queue the live tenant behind them.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no added delay: {:?}",
        started.elapsed()
    );

    let health = app
        .state
        .engine
        .tenant_health(&TenantKey::new("dead", "careem"))
        .await
        .unwrap();
    assert!(health.consecutive_failures >= 1);
    assert!(health.last_error.unwrap().contains("connection"));
    assert_eq!(health.queued, 5);
}

#[tokio::test]
async fn a_tenant_that_keeps_failing_is_probed_slowly_and_recovers_on_one_success() {
    let sink = Sink::start().await;
    sink.answer_by_default(500);
    let app = app_with(&[
        ("ORDERHOOK_RETRY__MAX_RETRIES", "100"),
        ("ORDERHOOK_RETRY__RETRY_DELAYS_MS", "10"),
        ("ORDERHOOK_RETRY__EXPONENTIAL_BACKOFF", "false"),
        ("ORDERHOOK_DELIVERY__FAILING_AFTER", "3"),
        ("ORDERHOOK_DELIVERY__PROBE_INTERVAL_MS", "1500"),
    ])
    .await;
    let secret = app
        .register_to("c1", "careem", &["order.created"], &sink.url)
        .await;
    let event = accept(&app, "c1", &secret, "order.created").await;
    let key = TenantKey::new("c1", "careem");
    assert!(
        eventually(Duration::from_secs(5), || async {
            sink.received().len() >= 4
        })
        .await
    );
    let received = sink.received();
    let probe_gap = received[3].at - received[2].at;
    assert!(
        probe_gap >= Duration::from_millis(1400),
        "after 3 failures attempts slow down: {probe_gap:?}"
    );
    assert!(received[1].at - received[0].at < Duration::from_millis(1000));
    assert_eq!(
        app.state.engine.tenant_health(&key).await.unwrap().state,
        "failing"
    );

    sink.answer_by_default(200);
    assert!(wait_for_status(&app, event, EventStatus::Delivered).await);
    let health = app.state.engine.tenant_health(&key).await.unwrap();
    assert_eq!(health.state, "healthy");
    assert_eq!(health.consecutive_failures, 0);
}

#[tokio::test]
async fn a_restart_resumes_pending_and_retrying_events_in_order() {
    let sink = Sink::start().await;
    sink.answer_by_default(503);
    let retrying = [
        ("ORDERHOOK_RETRY__MAX_RETRIES", "1000"),
        ("ORDERHOOK_RETRY__RETRY_DELAYS_MS", "150"),
    ];
    let mut first = app_with(&retrying).await;
    let secret = first
        .register_to("c1", "careem", &["order.created"], &sink.url)
        .await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(
            accept(&first, "c1", &secret, "order.created")
                .await
                .to_string(),
        );
    }
    assert!(
        eventually(Duration::from_secs(5), || async {
            sink.received().len() >= 2
        })
        .await
    );
    first.stop().await;

    sink.answer_by_default(200);
    let second = first.spawn_on_same_store(FAST_RETRIES).await;
    assert!(
        sink.wait_for_accepted(6, Duration::from_secs(15)).await,
        "all delivered after the restart"
    );
    assert_eq!(sink.accepted_ids(), ids, "in order, each accepted once");
    for id in &ids {
        let id = EventId(Uuid::parse_str(id).unwrap());
        assert!(wait_for_status(&second, id, EventStatus::Delivered).await);
    }
}

#[tokio::test]
async fn a_small_window_pages_the_backlog_in_from_the_store_in_order() {
    let sink = Sink::start().await;
    sink.answer_by_default(503);
    let app = app_with(&[
        ("ORDERHOOK_DELIVERY__WINDOW", "3"),
        ("ORDERHOOK_RETRY__MAX_RETRIES", "1000"),
    ])
    .await;
    let secret = app
        .register_to(
            "c1",
            "careem",
            &["order.created", "menu.updated"],
            &sink.url,
        )
        .await;
    let mut ids = Vec::new();
    for i in 0..25 {
        // Ignored events between deliverable ones leave gaps in what is delivered.
        if i % 4 == 3 {
            accept(&app, "c1", &secret, "order.updated").await;
        }
        ids.push(
            accept(&app, "c1", &secret, "order.created")
                .await
                .to_string(),
        );
    }
    let health = app
        .state
        .engine
        .tenant_health(&TenantKey::new("c1", "careem"))
        .await
        .unwrap();
    assert!(
        health.queued <= 3,
        "at most the window in memory: {}",
        health.queued
    );
    sink.answer_by_default(200);
    assert!(sink.wait_for_accepted(25, Duration::from_secs(15)).await);
    assert_eq!(sink.accepted_ids(), ids);
}

#[tokio::test]
async fn unsubscribed_events_are_never_delivered() {
    let sink = Sink::start().await;
    let app = app_with(&[]).await;
    let secret = app
        .register_to("c1", "careem", &["order.created"], &sink.url)
        .await;
    let ignored = accept(&app, "c1", &secret, "menu.updated").await;
    let wanted = accept(&app, "c1", &secret, "order.created").await;
    assert!(wait_for_status(&app, wanted, EventStatus::Delivered).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.accepted_ids(), [wanted.to_string()]);
    assert_eq!(status_of(&app, ignored).await, EventStatus::Ignored);
}

#[tokio::test]
async fn private_destinations_are_refused_unless_allowed() {
    let app = TestApp::spawn_with(
        StoreKind::Postgres,
        &[("ORDERHOOK_DELIVERY__ALLOW_PRIVATE_DESTINATIONS", "false")],
    )
    .await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://10.0.0.8/x",
    ] {
        let response = app
            .post_register(serde_json::json!({
                "clientId": "c1", "provider": "careem", "url": url, "events": ["order.created"],
            }))
            .await;
        assert_eq!(response.status(), 422, "{url}");
        let answer = json_body(response).await;
        assert_eq!(answer["error"]["field"], "url");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not a public address")
        );
    }
}

#[tokio::test]
async fn events_of_providers_that_hang_up_early_are_delivered_anyway() {
    const REQUESTS: usize = 60;
    let sink = Sink::start().await;
    let app = app_with(&[]).await;
    let secret = app
        .register_to("c1", "talabat", &["order_notification"], &sink.url)
        .await;
    // Stall commits, so every request is waiting on its commit when its provider hangs up.
    let db = app.db.as_ref().unwrap().client().await;
    db.batch_execute("BEGIN; SELECT 1 FROM webhooks WHERE client_id = 'c1' FOR UPDATE")
        .await
        .unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut streams = Vec::new();
    for _ in 0..REQUESTS {
        let body = order_body("order_notification");
        let request = format!(
            "POST /webhooks/talabat/c1 HTTP/1.1\r\nHost: {addr}\r\nX-Talabat-API-Key: {secret}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        streams.push(stream);
    }
    let all_waiting = eventually(Duration::from_secs(10), || async {
        app.state.engine.writer_queue_depth() == REQUESTS
    })
    .await;
    assert!(all_waiting, "every request reached the writer");
    // Gone before the answer: each handler's future is dropped mid-flight.
    drop(streams);
    tokio::time::sleep(Duration::from_millis(100)).await;
    db.batch_execute("ROLLBACK").await.unwrap();

    let tenant = TenantKey::new("c1", "talabat");
    let delivered_all = sink
        .wait_for_accepted(REQUESTS, Duration::from_secs(15))
        .await;
    let committed = app.store().tenant_events(&tenant, 0, 1000).await.unwrap();
    assert_eq!(
        committed.len(),
        REQUESTS,
        "the writer committed what it was given"
    );
    assert!(
        delivered_all,
        "delivered {} of {REQUESTS}",
        sink.accepted_ids().len()
    );
    let mut delivered = sink.accepted_ids();
    let in_order: Vec<String> = committed.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(delivered, in_order, "in sequence order");
    delivered.dedup();
    assert_eq!(delivered.len(), REQUESTS, "each once");
}

#[tokio::test]
async fn a_repeated_request_is_one_event_and_one_delivery_even_across_a_restart() {
    let sink = Sink::start().await;
    let mut app = app_with(&[]).await;
    let secret = app
        .register_to("c1", "careem", &["order.created"], &sink.url)
        .await;
    let body = order_body("order.created");
    let first = json_body(app.send_signed("careem", "c1", &secret, &body).await).await;
    let again = json_body(app.send_signed("careem", "c1", &secret, &body).await).await;
    assert_eq!(first["status"], "pending");
    assert_eq!(again["status"], "duplicate");
    assert_eq!(
        again["eventId"], first["eventId"],
        "the repeat names the original"
    );

    // Same order, different body (a later timestamp): a new event.
    let changed = body.replace("2024-09-27T10:30:00Z", "2024-09-27T10:31:00Z");
    let other = json_body(app.send_signed("careem", "c1", &secret, &changed).await).await;
    assert_eq!(other["status"], "pending");
    assert_ne!(other["eventId"], first["eventId"]);
    assert!(sink.wait_for_accepted(2, Duration::from_secs(5)).await);

    app.stop().await;
    let restarted = app.spawn_on_same_store(FAST_RETRIES).await;
    let after = json_body(restarted.send_signed("careem", "c1", &secret, &body).await).await;
    assert_eq!(
        after["status"], "duplicate",
        "the store remembers across restarts"
    );
    assert_eq!(after["eventId"], first["eventId"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.accepted_ids().len(), 2, "one delivery per event");
    let stored = restarted
        .store()
        .tenant_events(&TenantKey::new("c1", "careem"), 0, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
}

#[tokio::test]
async fn a_rotated_secret_overlaps_with_the_old_one_for_the_grace_period() {
    let sink = Sink::start().await;
    let app = app_with(&[("ORDERHOOK_SECURITY__ROTATION_GRACE_S", "2")]).await;
    let old = app
        .register_to("c1", "careem", &["order.created"], &sink.url)
        .await;
    let registered = app
        .store()
        .find_registration(&TenantKey::new("c1", "careem"))
        .await
        .unwrap()
        .unwrap();
    let rotate = |id: String, token: Option<&'static str>| {
        let mut request = app
            .http
            .post(app.url(&format!("/api/webhooks/{id}/rotate-secret")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(
        rotate(registered.webhook_id.to_string(), None)
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        rotate(Uuid::now_v7().to_string(), Some(ADMIN_TOKEN))
            .await
            .unwrap()
            .status(),
        404
    );
    let rotated = json_body(
        rotate(registered.webhook_id.to_string(), Some(ADMIN_TOKEN))
            .await
            .unwrap(),
    )
    .await;
    let new = rotated["secretKey"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["previousSecretValidUntil"].is_string());

    // During the grace period both secrets are accepted, and deliveries carry both signatures.
    accept(&app, "c1", &old, "order.created").await;
    accept(&app, "c1", &new, "order.created").await;
    assert!(sink.wait_for_accepted(2, Duration::from_secs(5)).await);
    for delivery in sink.received() {
        let header = |name: &str| delivery.headers[name].to_str().unwrap().to_owned();
        let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
        let signatures: Vec<String> = header("webhook-signature")
            .split(' ')
            .map(str::to_owned)
            .collect();
        assert_eq!(signatures.len(), 2);
        assert!(signatures.contains(&expected_signature(&new, &id, &timestamp, &delivery.body)));
        assert!(signatures.contains(&expected_signature(&old, &id, &timestamp, &delivery.body)));
    }

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = app
        .send_signed("careem", "c1", &old, &order_body("order.created"))
        .await;
    assert_eq!(
        expired.status(),
        401,
        "after the grace period only the new secret counts"
    );
    accept(&app, "c1", &new, "order.created").await;
    assert!(sink.wait_for_accepted(3, Duration::from_secs(5)).await);
    let last = sink.received().pop().unwrap();
    let signature = last.headers["webhook-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        !signature.contains(' '),
        "one signature once the old secret expired: {signature}"
    );
}

#[tokio::test]
async fn tenant_health_shows_failing_and_healthy_side_by_side_and_idle_without_starting() {
    let up = Sink::start().await;
    let down = Sink::start().await;
    down.answer_by_default(500);
    let app = app_with(&[
        ("ORDERHOOK_DELIVERY__FAILING_AFTER", "2"),
        ("ORDERHOOK_RETRY__MAX_RETRIES", "100"),
    ])
    .await;
    let good = app
        .register_to("good", "careem", &["order.created"], &up.url)
        .await;
    let bad = app
        .register_to("bad", "careem", &["order.created"], &down.url)
        .await;
    app.register_to("quiet", "careem", &["order.created"], &up.url)
        .await;
    accept(&app, "good", &good, "order.created").await;
    accept(&app, "bad", &bad, "order.created").await;
    accept(&app, "bad", &bad, "order.created").await;
    let health = |client: &'static str| {
        let app = &app;
        async move {
            let response = app
                .http
                .get(app.url(&format!("/api/tenants/{client}/careem/health")))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            json_body(response).await
        }
    };
    let failing = eventually(Duration::from_secs(5), || async {
        health("bad").await["state"] == "failing"
    })
    .await;
    assert!(failing, "{}", health("bad").await);
    let bad_health = health("bad").await;
    assert_eq!(bad_health["queueDepth"], 2);
    assert!(bad_health["oldestPendingAgeMs"].as_i64().unwrap() >= 0);
    assert!(bad_health["consecutiveFailures"].as_u64().unwrap() >= 2);
    assert_eq!(bad_health["lastError"], "HTTP 500");
    assert!(
        bad_health["rateLimits"]
            .as_array()
            .is_some_and(|w| !w.is_empty())
    );

    assert!(up.wait_for_accepted(1, Duration::from_secs(5)).await);
    let good_health = health("good").await;
    assert_eq!(good_health["state"], "healthy");
    assert_eq!(good_health["queueDepth"], 0);
    assert!(good_health["lastDeliveredAt"].is_string());

    let overall = json_body(app.http.get(app.url("/health")).send().await.unwrap()).await;
    let by_state = &overall["services"]["actors"]["tenantsByState"];
    assert_eq!(by_state["failing"], 1, "{overall}");
    assert_eq!(by_state["healthy"], 1, "{overall}");

    let list = |query: &'static str| {
        let app = &app;
        async move {
            let response = app
                .http
                .get(app.url(&format!("/api/tenants?{query}")))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, json_body(response).await)
        }
    };
    let (_, all) = list("").await;
    assert_eq!(all["total"], 3);
    let states: Vec<(String, String)> = all["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["clientId"].as_str().unwrap().into(),
                t["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("bad".into(), "failing".into()),
            ("good".into(), "healthy".into()),
            ("quiet".into(), "idle".into())
        ]
    );
    for (query, client) in [
        ("state=failing", "bad"),
        ("state=healthy", "good"),
        ("state=idle", "quiet"),
    ] {
        let (_, page) = list(query).await;
        assert_eq!(page["total"], 1, "{query}");
        assert_eq!(page["tenants"][0]["clientId"], client, "{query}");
    }
    let (_, first) = list("limit=1&offset=1").await;
    assert_eq!(
        (
            first["total"].as_i64(),
            first["tenants"][0]["clientId"].as_str()
        ),
        (Some(3), Some("good"))
    );
    assert_eq!(list("state=bogus").await.0, 400);

    let quiet = health("quiet").await;
    assert_eq!(quiet["state"], "idle");
    assert_eq!(quiet["actor"], "stopped");
    assert!(
        app.state
            .engine
            .tenant_health(&TenantKey::new("quiet", "careem"))
            .await
            .is_none(),
        "asking did not start an actor"
    );
    let unknown = app
        .http
        .get(app.url("/api/tenants/nobody/careem/health"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}
