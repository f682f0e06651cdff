//! The seed's log and stats API on seeded data: every filter, pagination
//! edges, invalid filters, and a client key seeing only its own.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, StoreKind, TestApp, eventually, json_body, order_body};
use crate::sink::Sink;

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.http
        .request(Method::GET, app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn logs(app: &TestApp, query: &str) -> Value {
    let response = get(app, &format!("/api/webhooks/logs?{query}"), ADMIN_TOKEN).await;
    assert_eq!(response.status(), 200, "{query}");
    json_body(response).await
}

/// c1/careem: 3 delivered and 1 ignored; c2/talabat: 2 failed (dead at once) and 1 rejected.
async fn seeded() -> (TestApp, Sink) {
    let ok = Sink::start().await;
    let failing = Sink::start().await;
    failing.answer_by_default(500);
    let app = TestApp::spawn_with(
        StoreKind::Postgres,
        &[
            ("ORDERHOOK_RETRY__MAX_RETRIES", "0"),
            ("ORDERHOOK_RETRY__RETRY_DELAYS_MS", "10"),
        ],
    )
    .await;
    let c1 = app
        .register_to("c1", "careem", &["order.created"], &ok.url)
        .await;
    let c2 = app
        .register_to("c2", "talabat", &["order_notification"], &failing.url)
        .await;
    for _ in 0..3 {
        assert_eq!(
            app.send_signed("careem", "c1", &c1, &order_body("order.created"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        app.send_signed("careem", "c1", &c1, &order_body("menu.updated"))
            .await
            .status(),
        200
    );
    for _ in 0..2 {
        assert_eq!(
            app.send_signed("talabat", "c2", &c2, &order_body("order_notification"))
                .await
                .status(),
            200
        );
    }
    let refused = app
        .send_signed(
            "talabat",
            "c2",
            "wrong-key-00000000000",
            &order_body("order_notification"),
        )
        .await;
    assert_eq!(refused.status(), 401);
    let settled = eventually(Duration::from_secs(10), || async {
        logs(&app, "status=success").await["total"] == 3
            && logs(&app, "status=failed").await["total"] == 2
            && logs(&app, "status=rejected").await["total"] == 1
    })
    .await;
    assert!(settled, "deliveries settled");
    (app, ok)
}

#[tokio::test]
async fn logs_filter_paginate_and_refuse_bad_filters() {
    let (app, _sink) = seeded().await;
    let all = logs(&app, "").await;
    assert_eq!(all["total"], 7);
    assert_eq!(all["limit"], 20);
    assert_eq!(all["offset"], 0);
    let items = all["logs"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    let times: Vec<&str> = items
        .iter()
        .map(|l| l["timestamp"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let first = &items[0];
    for field in [
        "id",
        "provider",
        "clientId",
        "event",
        "status",
        "timestamp",
        "payload",
    ] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }

    let cases = [
        ("provider=talabat", 3),
        ("clientId=c1", 4),
        ("clientId=c1&status=ignored", 1),
        ("status=success", 3),
        ("status=delivered&provider=careem", 3),
        ("status=failed", 2),
        ("status=pending", 0),
        ("startDate=2999-01-01T00:00:00Z", 0),
        ("endDate=2000-01-01T00:00:00Z", 0),
        (
            "startDate=2000-01-01T00:00:00Z&endDate=2999-01-01T00:00:00Z",
            7,
        ),
    ];
    for (query, expected) in cases {
        let page = logs(&app, query).await;
        assert_eq!(page["total"], expected, "{query}");
        assert_eq!(
            page["logs"].as_array().unwrap().len(),
            expected as usize,
            "{query}"
        );
    }
    // A delivered event's latest response time is shown.
    let delivered = logs(&app, "status=success&limit=1").await;
    assert!(delivered["logs"][0]["responseTime"].is_i64());

    let first_page = logs(&app, "limit=3&offset=0").await;
    let second_page = logs(&app, "limit=3&offset=3").await;
    let last_page = logs(&app, "limit=3&offset=6").await;
    assert_eq!(first_page["logs"].as_array().unwrap().len(), 3);
    assert_eq!(last_page["logs"].as_array().unwrap().len(), 1);
    assert_eq!(
        logs(&app, "limit=3&offset=7").await["logs"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_ne!(first_page["logs"][0]["id"], second_page["logs"][0]["id"]);
    assert_eq!(first_page["total"], 7, "total does not depend on the page");

    for (query, field) in [
        ("status=bogus", "status"),
        ("startDate=yesterday", "startDate"),
        ("endDate=2024-13-01T00:00:00Z", "endDate"),
        (
            "startDate=2024-02-01T00:00:00Z&endDate=2024-01-01T00:00:00Z",
            "endDate",
        ),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
        ("provider=ubereats", "provider"),
        ("clientId=a/b", "clientId"),
    ] {
        let response = get(&app, &format!("/api/webhooks/logs?{query}"), ADMIN_TOKEN).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            json_body(response).await["error"]["field"],
            field,
            "{query}"
        );
    }
}

#[tokio::test]
async fn stats_summarise_a_period_and_a_client_key_sees_only_its_own() {
    let (app, _sink) = seeded().await;
    let stats = json_body(get(&app, "/api/webhooks/stats?period=day", ADMIN_TOKEN).await).await;
    assert_eq!(stats["total"], 7);
    assert_eq!(stats["successful"], 3);
    assert_eq!(stats["failed"], 2);
    assert_eq!(stats["pending"], 0);
    assert_eq!(stats["period"], "day");
    assert_eq!(
        stats["providers"]["careem"],
        serde_json::json!({"total": 4, "successful": 3, "failed": 0})
    );
    assert_eq!(
        stats["providers"]["talabat"],
        serde_json::json!({"total": 3, "successful": 0, "failed": 2})
    );
    assert!(stats["avgResponseTime"].is_i64());
    assert_eq!(stats["recentEvents"].as_array().unwrap().len(), 5);
    let one = json_body(
        get(
            &app,
            "/api/webhooks/stats?clientId=c2&period=hour",
            ADMIN_TOKEN,
        )
        .await,
    )
    .await;
    assert_eq!(one["total"], 3);
    let careem = json_body(
        get(
            &app,
            "/api/webhooks/stats?provider=careem&period=week",
            ADMIN_TOKEN,
        )
        .await,
    )
    .await;
    assert_eq!(
        (careem["total"].as_i64(), careem["successful"].as_i64()),
        (Some(4), Some(3))
    );
    assert_eq!(careem["providers"].as_object().unwrap().len(), 1);
    let month = json_body(get(&app, "/api/webhooks/stats?period=month", ADMIN_TOKEN).await).await;
    assert_eq!(month["total"], 7);
    let bad_provider = get(&app, "/api/webhooks/stats?provider=ubereats", ADMIN_TOKEN).await;
    assert_eq!(bad_provider.status(), 400);
    let timeline = json_body(get(&app, "/api/webhooks/stats/timeline", ADMIN_TOKEN).await).await;
    assert_eq!(timeline["bucketSeconds"], 60);
    let points = timeline["points"].as_array().unwrap();
    let sum = |key: &str| points.iter().map(|p| p[key].as_i64().unwrap()).sum::<i64>();
    assert_eq!(
        (sum("events"), sum("errors")),
        (7, 3),
        "2 failed and 1 rejected of 7"
    );
    let bad = get(&app, "/api/webhooks/stats?period=year", ADMIN_TOKEN).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(json_body(bad).await["error"]["field"], "period");

    let created = json_body(
        app.http
            .post(app.url("/api/clients/c1/keys"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let own = json_body(get(&app, "/api/webhooks/logs", &key).await).await;
    assert_eq!(own["total"], 4, "only c1's events");
    assert!(
        own["logs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["clientId"] == "c1")
    );
    assert_eq!(
        get(&app, "/api/webhooks/logs?clientId=c2", &key)
            .await
            .status(),
        404
    );
    let own_stats = json_body(get(&app, "/api/webhooks/stats", &key).await).await;
    assert_eq!(own_stats["total"], 4);
    assert_eq!(
        get(&app, "/api/webhooks/stats?clientId=c2", &key)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.http
            .get(app.url("/api/webhooks/logs"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}
