//! The operators' page in a real browser: Debian's Chromium, headless, loads
//! /dashboard against a running server and must show a seeded tenant. A
//! screenshot is kept at target/dashboard.png.

use std::path::Path;
use std::process::Command;

use crate::helpers::{ADMIN_TOKEN, TestApp, order_body};

fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!("chromium is needed (apt-get install --no-install-recommends chromium): {err}")
        })
}

#[tokio::test]
async fn the_dashboard_shows_a_seeded_tenant_in_a_real_browser() {
    let app = TestApp::spawn().await;
    let secret = app
        .register("dash_client", "careem", &["order.created"])
        .await;
    assert_eq!(
        app.send_signed(
            "careem",
            "dash_client",
            &secret,
            &order_body("order.created")
        )
        .await
        .status(),
        200
    );
    let page = app.url(&format!("/dashboard#token={ADMIN_TOKEN}"));
    let profile = tempfile::tempdir().unwrap();

    let dom = tokio::task::spawn_blocking({
        let (page, profile) = (page.clone(), profile.path().to_owned());
        move || chromium(&["--dump-dom", &page], &profile)
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains(r#"data-tenant="dash_client/careem""#),
        "the tenant row:\n{dom}"
    );
    assert!(dom.contains("events ·"), "the hour's totals:\n{dom}");
    assert!(dom.contains("<polyline"), "the chart:\n{dom}");

    let screenshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = format!("--screenshot={}", screenshot.display());
    let output = tokio::task::spawn_blocking({
        let profile = profile.path().to_owned();
        move || chromium(&[&shot, "--window-size=1200,900", &page], &profile)
    })
    .await
    .unwrap();
    assert!(
        std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 1000),
        "a screenshot was written: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
