//! Client-scoped keys: a client sees and changes only its own resources, and
//! another client's look exactly like ones that do not exist.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{ADMIN_TOKEN, TestApp, json_body, order_body};

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_client_key_reaches_its_own_client_only_until_revoked() {
    use reqwest::Method;
    let app = TestApp::spawn().await;
    let mut event_ids = Vec::new();
    for client in ["c1", "c2"] {
        let secret = app.register(client, "careem", &["order.created"]).await;
        let answer = json_body(
            app.send_signed("careem", client, &secret, &order_body("order.created"))
                .await,
        )
        .await;
        event_ids.push(answer["eventId"].as_str().unwrap().to_owned());
    }
    let (own_event, other_event) = (&event_ids[0], &event_ids[1]);

    assert_eq!(
        call(
            &app,
            Method::POST,
            "/api/clients/nobody/keys",
            ADMIN_TOKEN,
            None
        )
        .await
        .status(),
        404
    );
    let created = call(
        &app,
        Method::POST,
        "/api/clients/c1/keys",
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(created.status(), 201);
    let created = json_body(created).await;
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["keyId"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ohk_") && key.len() > 40);

    // Its own client's resources.
    let own = call(
        &app,
        Method::GET,
        &format!("/api/webhooks/logs/{own_event}"),
        &key,
        None,
    )
    .await;
    assert_eq!(own.status(), 200);
    let log = json_body(own).await;
    assert_eq!(log["clientId"], "c1");
    assert_eq!(log["event"], "order.created");
    assert_eq!(
        log["payload"]["event_type"], "order.created",
        "the payload as JSON"
    );
    assert_eq!(
        call(&app, Method::GET, "/api/webhooks/config/c1", &key, None)
            .await
            .status(),
        200
    );

    // Another client's look like nothing at all.
    let other_log = call(
        &app,
        Method::GET,
        &format!("/api/webhooks/logs/{other_event}"),
        &key,
        None,
    )
    .await;
    assert_eq!(other_log.status(), 404);
    assert_eq!(json_body(other_log).await["error"]["code"], "unknown_event");
    for (method, path, body) in [
        (Method::GET, "/api/webhooks/config/c2".to_owned(), None),
        (
            Method::PUT,
            "/api/webhooks/config/c2".to_owned(),
            Some(json!({"retryPolicy": {"maxRetries": 1}})),
        ),
        (
            Method::POST,
            format!("/api/webhooks/retry/{other_event}"),
            None,
        ),
    ] {
        let response = call(&app, method.clone(), &path, &key, body).await;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    let other_webhook = app
        .store()
        .find_registration(&orderhook_actors::domain::TenantKey::new("c2", "careem"))
        .await
        .unwrap()
        .unwrap()
        .webhook_id;
    let path = format!("/api/webhooks/{other_webhook}/rotate-secret");
    assert_eq!(
        call(&app, Method::POST, &path, &key, None).await.status(),
        404
    );
    // Operator-only actions stay operator-only.
    assert_eq!(
        call(&app, Method::POST, "/api/clients/c1/keys", &key, None)
            .await
            .status(),
        403
    );
    let register = call(
        &app,
        Method::POST,
        "/api/webhooks/register",
        &key,
        Some(json!({})),
    )
    .await;
    assert_eq!(register.status(), 403);

    // The operator sees both.
    let path = format!("/api/webhooks/logs/{other_event}");
    assert_eq!(
        call(&app, Method::GET, &path, ADMIN_TOKEN, None)
            .await
            .status(),
        200
    );

    // Only a hash of the key is stored.
    let db = app.db.as_ref().unwrap().client().await;
    let hash: Vec<u8> = Sha256::digest(key.as_bytes()).to_vec();
    let matches: i64 = db
        .query_one(
            "SELECT count(*) FROM client_keys WHERE key_sha256 = $1",
            &[&hash],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(matches, 1);

    let revoke = format!("/api/clients/c1/keys/{key_id}");
    assert_eq!(
        call(&app, Method::DELETE, &revoke, ADMIN_TOKEN, None)
            .await
            .status(),
        204
    );
    assert_eq!(
        call(&app, Method::GET, "/api/webhooks/config/c1", &key, None)
            .await
            .status(),
        401
    );
    assert_eq!(
        call(&app, Method::DELETE, &revoke, ADMIN_TOKEN, None)
            .await
            .status(),
        404
    );
}
