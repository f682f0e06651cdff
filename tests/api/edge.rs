//! The edge under hostile input: slow clients, header floods, and arbitrary
//! bytes, headers and paths. Nothing may panic, and nothing may be answered
//! 5xx other than 503.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{StoreKind, TestApp, order_body};

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let app = TestApp::spawn_with(
        StoreKind::Postgres,
        &[("ORDERHOOK_SERVER__HEADER_READ_TIMEOUT_MS", "300")],
    )
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /webhooks/careem/c1 HTTP/1.1\r\nHost: x\r\nX-Careem-Timest")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut buffer)).await;
    assert!(closed.is_ok(), "the server closed the connection");
    assert_eq!(
        app.http
            .get(app.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_flood_of_headers_is_refused() {
    let app = TestApp::spawn().await;
    let mut request = app.http.post(app.url("/webhooks/careem/c1"));
    for i in 0..100 {
        request = request.header(format!("x-filler-{i}"), "x");
    }
    let response = request
        .body(order_body("order.created"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x-careem-signature".to_owned()),
        Just("x-careem-timestamp".to_owned()),
        Just("x-careem-client-id".to_owned()),
        Just("x-talabat-api-key".to_owned()),
        Just("x-deliveroo-hmac-sha256".to_owned()),
        Just("x-deliveroo-sequence-guid".to_owned()),
        Just("authorization".to_owned()),
        Just("content-type".to_owned()),
        Just("x-forwarded-for".to_owned()),
        "[a-z][a-z0-9-]{0,20}",
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ -~]{0,80}".prop_map(String::into_bytes),
        Just(b"Bearer secret-c1-jahez-0123456789".to_vec()),
        Just(b"secret-c1-talabat-0123456789".to_vec()),
        proptest::collection::vec(32u8..=255, 0..40),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        Just(order_body("order.created").into_bytes()),
        // Valid JSON with odd shapes and values.
        "\\{\"event_type\":\"[^\"\\\\]{0,30}\",\"timestamp\":\"[0-9T:Z-]{0,25}\",\"data\":(\\{\\}|\\[\\]|null|1)\\}"
            .prop_map(String::into_bytes),
        Just(b"{\"event_type\":\"\\ud800\",\"timestamp\":\"2024-01-01\",\"data\":{}}".to_vec()),
        Just(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]".to_vec()),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("careem".to_owned()),
        Just("talabat".to_owned()),
        Just("jahez".to_owned()),
        Just("deliveroo".to_owned()),
        Just("c1".to_owned()),
        "[A-Za-z0-9_.~-]{0,140}",
        "(%[0-9A-F]{2}){1,6}",
    ]
}

#[test]
fn arbitrary_requests_never_panic_or_fail_with_a_5xx_other_than_503() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(async {
        let app = TestApp::spawn().await;
        for provider in ["careem", "talabat", "deliveroo", "jahez"] {
            let events = &app.state.settings.providers[provider].events;
            let event_refs: Vec<&str> = events.iter().map(String::as_str).collect();
            app.register("c1", provider, &event_refs).await;
        }
        app
    });
    let request = (
        segment(),
        segment(),
        proptest::collection::vec((header_name(), header_value()), 0..8),
        body(),
    );
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&request, |(provider, client, headers, body)| {
            let status = runtime.block_on(async {
                let mut request = app
                    .http
                    .post(app.url(&format!("/webhooks/{provider}/{client}")));
                for (name, value) in &headers {
                    if let Ok(value) = reqwest::header::HeaderValue::from_bytes(value) {
                        request = request.header(name.as_str(), value);
                    }
                }
                let response = request
                    .body(body.clone())
                    .send()
                    .await
                    .expect("the server answers");
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                if status >= 400 {
                    // Every error our handlers produce is JSON.
                    let json: serde_json::Value = serde_json::from_str(&text)
                        .unwrap_or_else(|_| panic!("error body is not JSON ({status}): {text}"));
                    assert_eq!(json["success"], false);
                }
                status
            });
            prop_assert!(status < 500 || status == 503, "answered {}", status);
            Ok(())
        })
        .unwrap();
    let health = runtime.block_on(async {
        app.http
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(health, 200, "still healthy afterwards");
}
