//! Invalid payloads get the right 4xx and a JSON error naming the problem;
//! nothing is committed for them but a `rejected` row.

use std::time::Duration;

use crate::helpers::{TestApp, eventually, json_body, order_body};

#[tokio::test]
async fn invalid_payloads_are_refused_with_a_json_error_naming_the_problem() {
    let app = TestApp::spawn().await;
    let secret = app.register("c1", "careem", &["order.created"]).await;
    let cases: &[(&str, String, u16, &str, Option<&str>)] = &[
        ("not JSON", "order please".into(), 400, "invalid_json", None),
        ("JSON array", "[1,2]".into(), 422, "invalid_payload", None),
        (
            "missing event_type",
            r#"{"timestamp":"2024-09-27T10:30:00Z","data":{}}"#.into(),
            422,
            "invalid_field",
            Some("event_type"),
        ),
        (
            "empty event_type",
            r#"{"event_type":"","timestamp":"2024-09-27T10:30:00Z","data":{}}"#.into(),
            422,
            "invalid_field",
            Some("event_type"),
        ),
        (
            "bad timestamp",
            r#"{"event_type":"order.created","timestamp":"last tuesday","data":{}}"#.into(),
            422,
            "invalid_field",
            Some("timestamp"),
        ),
        (
            "data not an object",
            r#"{"event_type":"order.created","timestamp":"2024-09-27T10:30:00Z","data":[1]}"#
                .into(),
            422,
            "invalid_field",
            Some("data"),
        ),
    ];
    for (case, body, status, code, field) in cases {
        let response = app.send_signed("careem", "c1", &secret, body).await;
        assert_eq!(response.status().as_u16(), *status, "{case}");
        let answer = json_body(response).await;
        assert_eq!(answer["success"], false, "{case}");
        assert_eq!(answer["error"]["code"], *code, "{case}");
        let message = answer["error"]["message"].as_str().unwrap();
        if let Some(field) = field {
            assert_eq!(answer["error"]["field"], *field, "{case}");
            assert!(message.contains(field), "{case}: {message}");
        }
    }

    let db = app.db.as_ref().unwrap().client().await;
    let all_logged = eventually(Duration::from_secs(5), || async {
        let row = db
            .query_one(
                "SELECT count(*) FROM webhook_logs WHERE status = 'rejected'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) == cases.len() as i64
    })
    .await;
    assert!(all_logged, "every refused payload leaves one rejected row");
    let accepted: i64 = db
        .query_one(
            "SELECT count(*) FROM webhook_logs WHERE status <> 'rejected'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(accepted, 0);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413_and_one_just_under_is_accepted() {
    let app = TestApp::spawn().await;
    let secret = app.register("c1", "talabat", &["order_notification"]).await;
    let template = order_body("order_notification");
    let pad = |total: usize| {
        let filler = total - template.len() - r#","pad":"""#.len();
        format!(
            "{},\"pad\":\"{}\"}}",
            &template[..template.len() - 1],
            "x".repeat(filler)
        )
    };
    let just_under = pad(1024 * 1024);
    assert_eq!(just_under.len(), 1024 * 1024);
    let response = app.send_signed("talabat", "c1", &secret, &just_under).await;
    assert_eq!(response.status(), 200);

    let over = pad(1024 * 1024 + 1);
    let response = app.send_signed("talabat", "c1", &secret, &over).await;
    assert_eq!(response.status(), 413);
    let answer = json_body(response).await;
    assert_eq!(answer["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn rejected_rows_keep_a_bounded_slice_of_the_body() {
    let app = TestApp::spawn_with(
        crate::helpers::StoreKind::Postgres,
        &[("ORDERHOOK_INGEST__REJECTED_BODY_BYTES", "64")],
    )
    .await;
    app.register("c1", "jahez", &["order_action"]).await;
    let body = order_body("order_action");
    let response = app
        .http
        .post(app.url("/webhooks/jahez/c1"))
        .bearer_auth("wrong-token-0000000000")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let db = app.db.as_ref().unwrap().client().await;
    let logged = eventually(Duration::from_secs(5), || async {
        !db.query("SELECT 1 FROM webhook_logs", &[])
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    assert!(logged);
    let row = db
        .query_one("SELECT payload, event_type FROM webhook_logs", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0).len(), 64);
    assert_eq!(row.get::<_, String>(1), "order_action");
}

#[tokio::test]
async fn a_flood_of_refused_requests_leaves_one_row_per_interval() {
    let app = TestApp::spawn_with(
        crate::helpers::StoreKind::Postgres,
        &[("ORDERHOOK_TENANTS__REFUSAL_LOG_INTERVAL_MS", "600")],
    )
    .await;
    app.register("c1", "talabat", &["order_notification"]).await;
    let refuse = || async {
        let response = app
            .send_signed(
                "talabat",
                "c1",
                "not-the-key-0000000000",
                &order_body("order_notification"),
            )
            .await;
        assert_eq!(response.status(), 401);
    };
    for _ in 0..20 {
        refuse().await;
    }
    tokio::time::sleep(Duration::from_millis(650)).await;
    refuse().await;
    let db = app.db.as_ref().unwrap().client().await;
    let logged = eventually(Duration::from_secs(5), || async {
        db.query("SELECT 1 FROM webhook_logs WHERE status = 'rejected'", &[])
            .await
            .unwrap()
            .len()
            == 2
    })
    .await;
    assert!(logged, "twenty-one refusals, two rows");
    let second: String = db
        .query_one(
            "SELECT error_message FROM webhook_logs WHERE status = 'rejected' ORDER BY created_at DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(second.contains("19 similar refusal(s)"), "{second}");
}
