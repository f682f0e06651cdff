//! /openapi.json describes every route the router serves, and nothing else.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{TestApp, json_body};

/// The paths `src/http/mod.rs` routes, read from its source.
fn routed_paths() -> BTreeSet<String> {
    let source = include_str!("../../src/http/mod.rs");
    let mut paths = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let start = rest.find('"').expect("a path literal") + 1;
        let end = start + rest[start..].find('"').expect("its end");
        paths.insert(rest[start..end].to_owned());
    }
    paths
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_each_answers() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let spec = json_body(response).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(spec["info"]["title"], "orderhook");

    let documented: BTreeSet<String> = spec["paths"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        documented,
        routed_paths(),
        "documented paths = routed paths"
    );
    for schema in [
        "Accepted",
        "ErrorBody",
        "RegisterRequest",
        "Registered",
        "ConfigView",
        "ConfigChange",
    ] {
        assert!(
            spec["components"]["schemas"].get(schema).is_some(),
            "schema {schema}"
        );
    }
    assert!(
        spec["components"]["securitySchemes"]
            .get("bearer")
            .is_some()
    );

    // Every documented operation reaches a handler: never the router's own 404 or 405.
    for (path, operations) in spec["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{provider}", "careem")
            .replace("{client_id}", "c1")
            .replace("{log_id}", "01a24000-0000-7000-8000-000000000000")
            .replace("{webhook_id}", "01a24000-0000-7000-8000-000000000000")
            .replace("{key_id}", "01a24000-0000-7000-8000-000000000000");
        for method in operations.as_object().unwrap().keys() {
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let response = app
                .http
                .request(method.clone(), app.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value =
                serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
            let code = body["error"]["code"].as_str().unwrap_or("");
            assert!(
                status != 405 && code != "not_found",
                "{method} {concrete} is documented but not routed ({status} {code})"
            );
        }
    }
}
