//! `POST /api/webhooks/register` and `GET /health`.

use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, StoreKind, TestApp, json_body, order_body};

fn valid() -> serde_json::Value {
    json!({
        "clientId": "client_123",
        "provider": "careem",
        "url": "https://pos.example.com/webhook",
        "events": ["order.created", "order.updated"],
    })
}

#[tokio::test]
async fn registration_needs_the_operator_token() {
    let app = TestApp::spawn().await;
    let url = app.url("/api/webhooks/register");
    let none = app.http.post(&url).json(&valid()).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(json_body(none).await["error"]["code"], "unauthorized");
    let wrong = app
        .http
        .post(&url)
        .bearer_auth("guess")
        .json(&valid())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = app
        .http
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&valid())
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 201);
}

#[tokio::test]
async fn registering_creates_then_updates_in_place() {
    let app = TestApp::spawn().await;
    let created = app.post_register(valid()).await;
    assert_eq!(created.status(), 201);
    let created = json_body(created).await;
    assert_eq!(
        created["url"],
        "https://hooks.example.com/webhooks/careem/client_123"
    );
    assert_eq!(created["status"], "active");
    let secret = created["secretKey"]
        .as_str()
        .expect("a generated secret")
        .to_owned();
    assert!(secret.len() >= 43, "at least 32 random bytes");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );

    let mut update = valid();
    update["events"] = json!(["order.cancelled"]);
    update["url"] = json!("https://pos.example.com/v2");
    let updated = app.post_register(update).await;
    assert_eq!(updated.status(), 200);
    let updated = json_body(updated).await;
    assert_eq!(updated["webhookId"], created["webhookId"]);
    assert!(
        updated.get("secretKey").is_none(),
        "an unchanged secret is not shown again"
    );

    // The old secret still signs; the new subscription decides what is delivered.
    let answer = json_body(
        app.send_signed(
            "careem",
            "client_123",
            &secret,
            &order_body("order.created"),
        )
        .await,
    )
    .await;
    assert_eq!(answer["status"], "ignored");
    let answer = json_body(
        app.send_signed(
            "careem",
            "client_123",
            &secret,
            &order_body("order.cancelled"),
        )
        .await,
    )
    .await;
    assert_eq!(answer["status"], "pending");
    let registration = app
        .store()
        .find_registration(&orderhook_actors::domain::TenantKey::new(
            "client_123",
            "careem",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(registration.url, "https://pos.example.com/v2");
}

#[tokio::test]
async fn invalid_registrations_name_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        ("clientId", json!("a/b")),
        ("clientId", json!("")),
        ("clientId", json!("x".repeat(129))),
        ("provider", json!("ubereats")),
        ("url", json!("ftp://pos.example.com")),
        ("url", json!("not a url")),
        ("events", json!([])),
        ("events", json!(["order.exploded"])),
        ("secretKey", json!("short")),
        ("secretKey", json!("has spaces in it, sixteen+")),
    ];
    for (field, value) in cases {
        let mut body = valid();
        body[field] = value.clone();
        let response = app.post_register(body).await;
        assert_eq!(response.status(), 422, "{field} = {value}");
        let answer = json_body(response).await;
        assert_eq!(answer["error"]["field"], field, "{field} = {value}");
    }

    let mut missing = valid();
    missing.as_object_mut().unwrap().remove("events");
    let response = app.post_register(missing).await;
    assert_eq!(response.status(), 422);
    let answer = json_body(response).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("events"),
        "{answer}"
    );

    let response = app
        .http
        .post(app.url("/api/webhooks/register"))
        .bearer_auth(ADMIN_TOKEN)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(json_body(response).await["success"], false);
}

#[tokio::test]
async fn health_reports_the_store_and_the_engine() {
    for kind in [StoreKind::Postgres, StoreKind::Embedded] {
        let app = TestApp::spawn_with(kind, &[]).await;
        let response = app.http.get(app.url("/health")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let health = json_body(response).await;
        assert_eq!(health["status"], "ok");
        assert_eq!(health["services"]["database"]["status"], "up");
        assert_eq!(health["services"]["actors"]["status"], "up");
        assert!(health["services"]["actors"]["runningTenants"].is_u64());
        assert!(health["timestamp"].is_string());
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(json_body(response).await["error"]["code"], "not_found");
    let response = app
        .http
        .get(app.url("/webhooks/careem/c1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        json_body(response).await["error"]["code"],
        "method_not_allowed"
    );
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_a_wrong_key_stops_start_up() {
    let app = TestApp::spawn().await;
    let secret = app.register("c1", "careem", &["order.created"]).await;
    let db = app.db.as_ref().unwrap().client().await;
    let stored: String = db
        .query_one(
            "SELECT secret_key FROM webhooks WHERE client_id = 'c1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains(&secret), "not in clear");
    // A sealed secret moved onto another tenant's row does not open there.
    app.register("c2", "careem", &["order.created"]).await;
    db.execute(
        "UPDATE webhooks SET secret_key = $1 WHERE client_id = 'c2'",
        &[&stored],
    )
    .await
    .unwrap();
    let moved = app
        .store()
        .find_registration(&orderhook_actors::domain::TenantKey::new("c2", "careem"))
        .await;
    assert!(moved.is_err(), "a sealed secret is bound to its own tenant");
    let response = app
        .send_signed("careem", "c1", &secret, &order_body("order.created"))
        .await;
    assert_eq!(response.status(), 200, "the right key opens the right row");

    let other_key = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
    let err = app
        .build_on_same_store(&[("ORDERHOOK_ENCRYPTION_KEY", other_key)])
        .await
        .err()
        .expect("a wrong key must not start");
    let message = format!("{err:#}");
    assert!(message.contains("encryption key"), "{message}");
    let err = app
        .build_on_same_store(&[("ORDERHOOK_ENCRYPTION_KEY", "too-short")])
        .await
        .err()
        .expect("a malformed key must not start");
    assert!(format!("{err:#}").contains("32 bytes"), "{err:#}");
}
