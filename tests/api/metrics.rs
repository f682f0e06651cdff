//! `/metrics` is valid Prometheus text and moves with traffic.

use uuid::Uuid;

use crate::helpers::{TestApp, order_body};

/// The value of the series of `name` whose labels include all of `labels`.
fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit_once(' '))
        .and_then(|(_, value)| value.parse().ok())
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_traffic() {
    let app = TestApp::spawn().await;
    // Metrics are process-wide and tests share the process: a fresh client id keeps ours apart.
    let client = format!("metrics_{}", Uuid::now_v7().simple());
    let secret = app
        .register(&client, "talabat", &["order_notification"])
        .await;
    for _ in 0..3 {
        assert_eq!(
            app.send_signed(
                "talabat",
                &client,
                &secret,
                &order_body("order_notification")
            )
            .await
            .status(),
            200
        );
    }
    let refused = app
        .send_signed(
            "talabat",
            &client,
            "wrong-secret-000000000",
            &order_body("order_notification"),
        )
        .await;
    assert_eq!(refused.status(), 401);
    let stranger = format!("nobody_{}", Uuid::now_v7().simple());
    app.send_signed(
        "talabat",
        &stranger,
        &secret,
        &order_body("order_notification"),
    )
    .await;

    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for line in text
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        let (series, sample) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        assert!(
            sample.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&sample),
            "bad sample: {line}"
        );
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
    }

    let client_label = format!("client_id=\"{client}\"");
    assert_eq!(
        value(
            &text,
            "webhook_requests_total",
            &[&client_label, "status=\"pending\""]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &text,
            "webhook_requests_total",
            &[&client_label, "status=\"unauthorized\""]
        ),
        Some(1.0)
    );
    assert!(!text.contains(&stranger), "unknown tenants mint no series");
    let timed = value(
        &text,
        "webhook_processing_duration_seconds_count",
        &["provider=\"talabat\"", "status=\"pending\""],
    );
    assert!(timed.unwrap() >= 3.0);
    assert!(value(&text, "orderhook_writer_batch_rows_count", &[]).unwrap() >= 1.0);
    assert!(value(&text, "orderhook_writer_queue_depth", &[]).is_some());
    assert!(text.contains("# HELP webhook_requests_total"));
}
