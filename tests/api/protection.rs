//! Per-client configuration and the protections it drives: the seed's config
//! API, overrides applied to running tenants, and the IP allowlist.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, StoreKind, TestApp, json_body, order_body};

async fn get_config(app: &TestApp, client: &str) -> reqwest::Response {
    app.http
        .get(app.url(&format!("/api/webhooks/config/{client}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
}

async fn put_config(app: &TestApp, client: &str, body: Value) -> reqwest::Response {
    app.http
        .put(app.url(&format!("/api/webhooks/config/{client}")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn config_shows_defaults_then_merges_partial_changes() {
    let app = TestApp::spawn().await;
    assert_eq!(get_config(&app, "nobody").await.status(), 404);
    let secret = app.register("c1", "careem", &["order.created"]).await;
    app.register("c1", "talabat", &["order_notification"]).await;
    let unauthorised = app
        .http
        .get(app.url("/api/webhooks/config/c1"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);

    let config = json_body(get_config(&app, "c1").await).await;
    assert_eq!(config["clientId"], "c1");
    assert_eq!(config["webhooks"].as_array().unwrap().len(), 2);
    assert!(
        !config.to_string().contains(&secret),
        "no secrets in the config"
    );
    assert_eq!(
        config["retryPolicy"],
        json!({"maxRetries": 3, "retryDelays": [1000, 5000, 10000], "exponentialBackoff": true})
    );
    assert_eq!(config["security"]["signatureValidation"], true);
    assert_eq!(config["security"]["ipWhitelist"], json!([]));
    assert_eq!(config["security"]["rateLimiting"]["enabled"], true);

    let changed = put_config(&app, "c1", json!({"retryPolicy": {"maxRetries": 5}})).await;
    assert_eq!(changed.status(), 200);
    assert_eq!(json_body(changed).await["retryPolicy"]["maxRetries"], 5);
    put_config(
        &app,
        "c1",
        json!({"security": {"ipWhitelist": ["127.0.0.0/8"]}}),
    )
    .await;
    let config = json_body(get_config(&app, "c1").await).await;
    assert_eq!(
        config["retryPolicy"],
        json!({"maxRetries": 5, "retryDelays": [1000, 5000, 10000], "exponentialBackoff": true})
    );
    assert_eq!(config["security"]["ipWhitelist"], json!(["127.0.0.0/8"]));
}

#[tokio::test]
async fn bad_config_values_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    app.register("c1", "careem", &["order.created"]).await;
    let cases = [
        (
            json!({"retryPolicy": {"maxRetries": 99}}),
            "retryPolicy.maxRetries",
        ),
        (json!({"retryPolicy": {"maxRetries": -1}}), "maxRetries"),
        (
            json!({"retryPolicy": {"retryDelays": []}}),
            "retryPolicy.retryDelays",
        ),
        (
            json!({"retryPolicy": {"retryDelays": [0]}}),
            "retryPolicy.retryDelays",
        ),
        (
            json!({"security": {"ipWhitelist": ["not-an-ip"]}}),
            "security.ipWhitelist",
        ),
        (
            json!({"security": {"rateLimiting": {"maxRequests": 0, "windowMs": 60000}}}),
            "security.rateLimiting.maxRequests",
        ),
        (
            json!({"security": {"rateLimiting": {"maxRequests": 10, "windowMs": 5}}}),
            "security.rateLimiting.windowMs",
        ),
        (
            json!({"security": {"rateLimiting": {"maxRequests": 10}}}),
            "security.rateLimiting",
        ),
        (
            json!({"security": {"signatureValidation": false}}),
            "security.signatureValidation",
        ),
        (json!({"security": {"mystery": true}}), "mystery"),
    ];
    for (body, field) in cases {
        let response = put_config(&app, "c1", body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer = json_body(response).await;
        let named = answer["error"]["field"] == field
            || answer["error"]["message"].as_str().unwrap().contains(field);
        assert!(named, "{body}: {answer}");
    }
    let config = json_body(get_config(&app, "c1").await).await;
    assert_eq!(
        config["retryPolicy"]["maxRetries"], 3,
        "nothing invalid was saved"
    );
}

#[tokio::test]
async fn a_rate_limit_override_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let secret = app.register("c1", "jahez", &["order_action"]).await;
    assert_eq!(
        app.send_signed("jahez", "c1", &secret, &order_body("order_action"))
            .await
            .status(),
        200
    );
    let response = put_config(
        &app,
        "c1",
        json!({"security": {"rateLimiting": {"enabled": true, "maxRequests": 2, "windowMs": 60000}}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    for _ in 0..2 {
        assert_eq!(
            app.send_signed("jahez", "c1", &secret, &order_body("order_action"))
                .await
                .status(),
            200
        );
    }
    let limited = app
        .send_signed("jahez", "c1", &secret, &order_body("order_action"))
        .await;
    assert_eq!(limited.status(), 429);
    assert!(
        json_body(limited).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("client")
    );

    put_config(
        &app,
        "c1",
        json!({"security": {"rateLimiting": {"enabled": false}}}),
    )
    .await;
    for _ in 0..5 {
        assert_eq!(
            app.send_signed("jahez", "c1", &secret, &order_body("order_action"))
                .await
                .status(),
            200
        );
    }
}

/// A signed request from this test, optionally claiming to be forwarded for `xff`.
async fn send_with_forwarded_for(
    app: &TestApp,
    secret: &str,
    xff: Option<&str>,
) -> reqwest::Response {
    let body = order_body("order.created");
    let mut request = crate::helpers::sign(
        app.http.post(app.url("/webhooks/careem/c1")),
        "careem",
        "c1",
        secret,
        &body,
    );
    if let Some(xff) = xff {
        request = request.header("X-Forwarded-For", xff);
    }
    request.body(body).send().await.unwrap()
}

#[tokio::test]
async fn the_allowlist_admits_listed_addresses_only() {
    let app = TestApp::spawn().await;
    let secret = app.register("c1", "careem", &["order.created"]).await;
    put_config(
        &app,
        "c1",
        json!({"security": {"ipWhitelist": ["192.0.2.10", "198.51.100.0/24"]}}),
    )
    .await;
    let denied = send_with_forwarded_for(&app, &secret, None).await;
    assert_eq!(denied.status(), 403);
    assert_eq!(json_body(denied).await["error"]["code"], "forbidden");
    // The peer (this test) is no trusted proxy: its forwarded-for header changes nothing.
    let spoofed = send_with_forwarded_for(&app, &secret, Some("198.51.100.7")).await;
    assert_eq!(spoofed.status(), 403);

    put_config(
        &app,
        "c1",
        json!({"security": {"ipWhitelist": ["127.0.0.0/8"]}}),
    )
    .await;
    assert_eq!(
        send_with_forwarded_for(&app, &secret, None).await.status(),
        200
    );
    let db = app.db.as_ref().unwrap().client().await;
    let logged = crate::helpers::eventually(std::time::Duration::from_secs(5), || async {
        let rejected: i64 = db
            .query_one(
                "SELECT count(*) FROM webhook_logs WHERE status = 'rejected' AND error_message LIKE '%allowlist%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        rejected == 2
    })
    .await;
    assert!(logged, "each refusal leaves a rejected row");
}

#[tokio::test]
async fn forwarded_for_is_honoured_from_a_trusted_proxy() {
    let app = TestApp::spawn_with(
        StoreKind::Postgres,
        &[("ORDERHOOK_SECURITY__TRUSTED_PROXIES", "127.0.0.1")],
    )
    .await;
    let secret = app.register("c1", "careem", &["order.created"]).await;
    put_config(
        &app,
        "c1",
        json!({"security": {"ipWhitelist": ["198.51.100.0/24"]}}),
    )
    .await;
    assert_eq!(
        send_with_forwarded_for(&app, &secret, None).await.status(),
        403,
        "the proxy itself is not listed"
    );
    assert_eq!(
        send_with_forwarded_for(&app, &secret, Some("198.51.100.7"))
            .await
            .status(),
        200
    );
    // The right-most untrusted entry counts; what the caller prepended does not.
    assert_eq!(
        send_with_forwarded_for(&app, &secret, Some("198.51.100.7, 203.0.113.5"))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn signature_validation_can_be_turned_off_only_where_the_server_allows() {
    let app = TestApp::spawn_with(
        StoreKind::Postgres,
        &[("ORDERHOOK_SECURITY__ALLOW_DISABLING_SIGNATURES", "true")],
    )
    .await;
    app.register("c1", "jahez", &["order_action"]).await;
    let unsigned = || {
        app.http
            .post(app.url("/webhooks/jahez/c1"))
            .body(order_body("order_action"))
            .send()
    };
    assert_eq!(unsigned().await.unwrap().status(), 401);
    let response = put_config(
        &app,
        "c1",
        json!({"security": {"signatureValidation": false}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        json_body(response).await["security"]["signatureValidation"],
        false
    );
    assert_eq!(unsigned().await.unwrap().status(), 200);
    let health = app
        .state
        .engine
        .tenant_health(&orderhook_actors::domain::TenantKey::new("c1", "jahez"))
        .await
        .unwrap();
    assert!(!health.signature_validation, "shown in the tenant's health");
}
