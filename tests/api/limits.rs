//! Per-tenant rate limits: one tenant over its limit gets 429 with a correct
//! Retry-After while another tenant of the same provider is unaffected.

use std::time::Duration;

use orderhook_actors::domain::TenantKey;

use crate::helpers::{StoreKind, TestApp, eventually, json_body, order_body};

const SMALL_BURST: &[(&str, &str)] = &[
    ("ORDERHOOK_TENANTS__REFUSAL_LOG_INTERVAL_MS", "10000"),
    ("ORDERHOOK_PROVIDERS__TALABAT__RATE_LIMIT__BURST", "3"),
    (
        "ORDERHOOK_PROVIDERS__TALABAT__RATE_LIMIT__BURST_WINDOW_S",
        "1",
    ),
    ("ORDERHOOK_PROVIDERS__TALABAT__RATE_LIMIT__PER_MINUTE", "8"),
];

#[tokio::test]
async fn a_tenant_over_its_burst_gets_429_while_its_neighbour_does_not() {
    let app = TestApp::spawn_with(StoreKind::Postgres, SMALL_BURST).await;
    let noisy = app
        .register("noisy", "talabat", &["order_notification"])
        .await;
    let quiet = app
        .register("quiet", "talabat", &["order_notification"])
        .await;
    let send = |client: &'static str, secret: String| {
        let app = &app;
        async move {
            app.send_signed(
                "talabat",
                client,
                &secret,
                &order_body("order_notification"),
            )
            .await
        }
    };

    for _ in 0..3 {
        assert_eq!(send("noisy", noisy.clone()).await.status(), 200);
    }
    let refused = send("noisy", noisy.clone()).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        refused.headers()["retry-after"],
        "1",
        "a place frees within the second"
    );
    let answer = json_body(refused).await;
    assert_eq!(answer["error"]["code"], "rate_limited");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("burst")
    );
    for _ in 0..3 {
        assert_eq!(
            send("quiet", quiet.clone()).await.status(),
            200,
            "the neighbour is untouched"
        );
    }
    for _ in 0..4 {
        assert_eq!(send("noisy", noisy.clone()).await.status(), 429);
    }

    // The burst window passes; the per-minute window (8) still has room for 5.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    for _ in 0..3 {
        assert_eq!(send("noisy", noisy.clone()).await.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(1050)).await;
    for _ in 0..2 {
        assert_eq!(send("noisy", noisy.clone()).await.status(), 200);
    }
    let refused = send("noisy", noisy.clone()).await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (5..=60).contains(&wait),
        "the per-minute window frees a place in ~7.5 s: {wait}"
    );
    assert!(
        json_body(refused).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("per_minute")
    );

    let health = app
        .state
        .engine
        .tenant_health(&TenantKey::new("noisy", "talabat"))
        .await
        .unwrap();
    assert_eq!(health.rate_limited, 6);
    let per_minute = health
        .rate_limits
        .iter()
        .find(|w| w.window == "per_minute")
        .unwrap();
    assert_eq!((per_minute.used, per_minute.limit), (8, 8));

    // Six refusals, one aggregated row (rows come at most every ten seconds).
    let db = app.db.as_ref().unwrap().client().await;
    let logged = eventually(Duration::from_secs(5), || async {
        let rows = db
            .query(
                "SELECT error_message, payload FROM webhook_logs WHERE status = 'rate_limited'",
                &[],
            )
            .await
            .unwrap();
        rows.len() == 1 && rows[0].get::<_, Option<String>>(1).is_none()
    })
    .await;
    assert!(logged, "one rate_limited row, without the body");
    let accepted: i64 = db
        .query_one(
            "SELECT count(*) FROM webhook_logs WHERE client_id = 'noisy' AND seq IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(accepted, 8, "refused requests are not events");
}
