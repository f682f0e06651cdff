//! Failure paths: the store going away, bounds being hit, a batch holding a
//! bad row, a tenant actor panicking. None of them may produce a 200 for an
//! uncommitted event, a 500, or harm another tenant.

use std::sync::Arc;
use std::time::Duration;

use orderhook_actors::domain::TenantKey;
use orderhook_actors::tenant::TenantMessage;

use crate::helpers::{StoreKind, TestApp, admin_client, eventually, json_body, order_body};

#[tokio::test]
async fn store_down_means_503_never_200_and_service_resumes_when_it_returns() {
    let app = TestApp::spawn().await;
    let secret = app.register("c1", "careem", &["order.created"]).await;
    assert_eq!(
        app.send_signed("careem", "c1", &secret, &order_body("order.created"))
            .await
            .status(),
        200
    );

    let name = app.db.as_ref().unwrap().name.clone();
    let admin = admin_client().await;
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .await
        .unwrap();

    for _ in 0..3 {
        let response = app
            .send_signed("careem", "c1", &secret, &order_body("order.created"))
            .await;
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        let answer = json_body(response).await;
        assert_eq!(answer["success"], false);
        assert_eq!(answer["error"]["code"], "store_unavailable");
    }
    let health = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    assert_eq!(
        json_body(health).await["services"]["database"]["status"],
        "down"
    );

    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let recovered = eventually(Duration::from_secs(15), || async {
        app.send_signed("careem", "c1", &secret, &order_body("order.created"))
            .await
            .status()
            == 200
    })
    .await;
    assert!(recovered, "ingest works again without a restart");
    assert_eq!(
        app.http
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Only the acknowledged events were stored: one before the outage, one after.
    let stored = app
        .store()
        .tenant_events(&TenantKey::new("c1", "careem"), 0, 100)
        .await
        .unwrap();
    let seqs: Vec<i64> = stored.iter().map(|e| e.seq.unwrap()).collect();
    assert_eq!(seqs, [1, 2]);
}

/// Holds a tenant's registration row locked, which stalls any batch holding its events.
async fn lock_tenant_row(app: &TestApp, client_id: &str) -> tokio_postgres::Client {
    let db = app.db.as_ref().unwrap().client().await;
    db.batch_execute(&format!(
        "BEGIN; SELECT 1 FROM webhooks WHERE client_id = '{client_id}' FOR UPDATE"
    ))
    .await
    .unwrap();
    db
}

#[tokio::test]
async fn a_commit_that_outlives_its_timeout_is_503_and_is_not_committed_later() {
    let app = TestApp::spawn_with(
        StoreKind::Postgres,
        &[("ORDERHOOK_WRITER__COMMIT_TIMEOUT_MS", "300")],
    )
    .await;
    let secret = app.register("c1", "talabat", &["order_notification"]).await;
    let lock = lock_tenant_row(&app, "c1").await;
    let response = app
        .send_signed("talabat", "c1", &secret, &order_body("order_notification"))
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        json_body(response).await["error"]["code"],
        "store_unavailable"
    );
    lock.batch_execute("ROLLBACK").await.unwrap();

    let response = app
        .send_signed("talabat", "c1", &secret, &order_body("order_notification"))
        .await;
    assert_eq!(response.status(), 200);
    let stored = app
        .store()
        .tenant_events(&TenantKey::new("c1", "talabat"), 0, 100)
        .await
        .unwrap();
    assert_eq!(
        stored.len(),
        1,
        "the timed-out batch was cancelled on the server"
    );
    assert_eq!(stored[0].seq, Some(1));
}

/// One request of the tenant's, held waiting for its commit behind a row lock.
struct Stalled {
    answer: tokio::task::JoinHandle<reqwest::StatusCode>,
    lock: tokio_postgres::Client,
}

impl Stalled {
    async fn start(app: &Arc<TestApp>, provider: &str, client: &str, secret: &str) -> Self {
        let event_type = app.state.settings.providers[provider].events[0].clone();
        let lock = lock_tenant_row(app, client).await;
        let answer = {
            let (app, provider, client, secret) = (
                app.clone(),
                provider.to_owned(),
                client.to_owned(),
                secret.to_owned(),
            );
            tokio::spawn(async move {
                app.send_signed(&provider, &client, &secret, &order_body(&event_type))
                    .await
                    .status()
            })
        };
        let held = eventually(Duration::from_secs(5), || async {
            app.state.engine.writer_queue_depth() == 1
        })
        .await;
        assert!(held, "the request is waiting for its commit");
        Self { answer, lock }
    }

    /// Lets the commit through; the held request is then answered.
    async fn release(self) -> reqwest::StatusCode {
        self.lock.batch_execute("ROLLBACK").await.unwrap();
        self.answer.await.unwrap()
    }
}

#[tokio::test]
async fn a_tenant_over_its_in_flight_bound_gets_503_and_others_do_not() {
    let app = Arc::new(
        TestApp::spawn_with(
            StoreKind::Postgres,
            &[("ORDERHOOK_TENANTS__MAX_IN_FLIGHT", "1")],
        )
        .await,
    );
    let busy = app.register("busy", "jahez", &["order_action"]).await;
    let calm = app.register("calm", "jahez", &["order_action"]).await;
    let stalled = Stalled::start(&app, "jahez", "busy", &busy).await;
    let second = app
        .send_signed("jahez", "busy", &busy, &order_body("order_action"))
        .await;
    assert_eq!(second.status(), 503);
    assert_eq!(
        json_body(second).await["error"]["code"],
        "tenant_overloaded"
    );

    assert_eq!(stalled.release().await, 200);
    for (client, secret) in [("calm", &calm), ("busy", &busy)] {
        let response = app
            .send_signed("jahez", client, secret, &order_body("order_action"))
            .await;
        assert_eq!(response.status(), 200, "{client}");
    }
}

#[tokio::test]
async fn a_full_writer_queue_gets_503_instead_of_growing() {
    let app = Arc::new(
        TestApp::spawn_with(
            StoreKind::Postgres,
            &[("ORDERHOOK_WRITER__QUEUE_CAPACITY", "1")],
        )
        .await,
    );
    let a = app.register("a", "talabat", &["order_notification"]).await;
    let b = app.register("b", "talabat", &["order_notification"]).await;
    let stalled = Stalled::start(&app, "talabat", "a", &a).await;
    let other = app
        .send_signed("talabat", "b", &b, &order_body("order_notification"))
        .await;
    assert_eq!(other.status(), 503);
    assert_eq!(json_body(other).await["error"]["code"], "overloaded");

    assert_eq!(stalled.release().await, 200);
    let response = app
        .send_signed("talabat", "b", &b, &order_body("order_notification"))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_row_the_store_refuses_fails_alone_not_its_whole_batch() {
    // A batching delay puts both tenants' events in one transaction.
    let app = Arc::new(
        TestApp::spawn_with(
            StoreKind::Postgres,
            &[("ORDERHOOK_WRITER__MAX_BATCH_DELAY_MS", "300")],
        )
        .await,
    );
    let doomed = app.register("doomed", "careem", &["order.created"]).await;
    let fine = app.register("fine", "careem", &["order.created"]).await;
    // The registration vanishes from the store while this instance still has it cached.
    let db = app.db.as_ref().unwrap().client().await;
    db.execute("DELETE FROM webhooks WHERE client_id = 'doomed'", &[])
        .await
        .unwrap();

    let body = order_body("order.created");
    let (a, b) = tokio::join!(
        app.send_signed("careem", "doomed", &doomed, &body),
        app.send_signed("careem", "fine", &fine, &body),
    );
    assert_eq!(b.status(), 200, "the good row commits");
    assert_eq!(a.status(), 422);
    assert_eq!(json_body(a).await["error"]["code"], "unstorable");
    let stored = app
        .store()
        .tenant_events(&TenantKey::new("fine", "careem"), 0, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
}

#[tokio::test]
async fn a_panicking_tenant_actor_is_restarted_and_others_are_untouched() {
    let app = TestApp::spawn().await;
    let secret = app.register("fragile", "careem", &["order.created"]).await;
    let other_secret = app.register("steady", "careem", &["order.created"]).await;
    let fragile = TenantKey::new("fragile", "careem");
    let steady = TenantKey::new("steady", "careem");
    for (client, secret) in [("fragile", &secret), ("steady", &other_secret)] {
        assert_eq!(
            app.send_signed("careem", client, secret, &order_body("order.created"))
                .await
                .status(),
            200
        );
    }

    let engine = &app.state.engine;
    assert!(engine.send_to_tenant(&fragile, TenantMessage::Panic));
    let restarted = eventually(Duration::from_secs(5), || async {
        engine
            .tenant_health(&fragile)
            .await
            .is_some_and(|h| h.restarts == 1)
    })
    .await;
    assert!(restarted, "the supervisor restarted the tenant's actor");

    assert_eq!(
        app.send_signed("careem", "fragile", &secret, &order_body("order.created"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.send_signed(
            "careem",
            "steady",
            &other_secret,
            &order_body("order.created")
        )
        .await
        .status(),
        200
    );
    assert_eq!(engine.tenant_health(&steady).await.unwrap().restarts, 0);
    let seqs: Vec<i64> = app
        .store()
        .tenant_events(&fragile, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq.unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
}

#[tokio::test]
async fn a_tenant_that_keeps_panicking_is_restarted_with_backoff() {
    let app = TestApp::spawn_with(
        StoreKind::Postgres,
        &[("ORDERHOOK_TENANTS__RESTART_BACKOFF_MS", "400")],
    )
    .await;
    let secret = app
        .register("flaky", "talabat", &["order_notification"])
        .await;
    let key = TenantKey::new("flaky", "talabat");
    let engine = &app.state.engine;
    assert_eq!(
        app.send_signed(
            "talabat",
            "flaky",
            &secret,
            &order_body("order_notification")
        )
        .await
        .status(),
        200
    );
    assert!(engine.send_to_tenant(&key, TenantMessage::Panic));
    assert!(
        eventually(Duration::from_secs(5), || async {
            engine
                .tenant_health(&key)
                .await
                .is_some_and(|h| h.restarts == 1)
        })
        .await
    );
    // The second failure inside a minute waits out the backoff; meanwhile requests get 503, not a hang.
    assert!(engine.send_to_tenant(&key, TenantMessage::Panic));
    let backing_off = eventually(Duration::from_secs(2), || async {
        app.send_signed(
            "talabat",
            "flaky",
            &secret,
            &order_body("order_notification"),
        )
        .await
        .status()
            == 503
    })
    .await;
    assert!(backing_off);
    let back = eventually(Duration::from_secs(5), || async {
        app.send_signed(
            "talabat",
            "flaky",
            &secret,
            &order_body("order_notification"),
        )
        .await
        .status()
            == 200
    })
    .await;
    assert!(back, "the tenant returns after its backoff");
    assert_eq!(engine.tenant_health(&key).await.unwrap().restarts, 2);
}
