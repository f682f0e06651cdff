//! The `orderhook` binary as an operator runs it: the README's first command
//! on the embedded default, a generated operator token, SIGTERM, bad config.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn orderhook(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orderhook"));
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("ORDERHOOK_ADMIN_TOKEN")
        .env_remove("ORDERHOOK_CONFIG")
        .env_remove("ORDERHOOK_ENCRYPTION_KEY")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Sends SIGTERM, as an init system stopping the service would.
pub fn terminate(child: &Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

pub fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("orderhook did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serves_on_the_embedded_default_prints_a_token_once_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = orderhook(dir.path())
        .env("ORDERHOOK_ADDR", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("operator token"), "{line}");
    line.clear();
    stderr.read_line(&mut line).unwrap();
    let token = line.trim().to_owned();
    assert!(
        token.len() >= 43,
        "a generated token of 32 random bytes: {token:?}"
    );

    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut healthy = false;
    for _ in 0..100 {
        if let Ok(response) = http.get(format!("{base}/health")).send().await {
            healthy = response.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthy, "the server answers /health");
    let registered = http
        .post(format!("{base}/api/webhooks/register"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "clientId": "c1", "provider": "jahez",
            "url": "https://1.1.1.1/orders", "events": ["order_action"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        registered.status(),
        201,
        "the printed token is the operator token"
    );
    assert!(
        dir.path().join("data/orderhook.db").exists(),
        "the embedded store lives in ./data"
    );

    terminate(&child);
    let status = wait_for_exit(&mut child, Duration::from_secs(15));
    assert!(status.success(), "a SIGTERM stop is clean: {status}");
}

/// Starts the binary on a Postgres database and waits until it answers.
async fn start_on(db_url: &str, dir: &std::path::Path, port: u16) -> Child {
    start_with(db_url, dir, port, &[]).await
}

/// Starts the binary on a Postgres database, with extra environment, and waits until it answers.
pub async fn start_with(
    db_url: &str,
    dir: &std::path::Path,
    port: u16,
    env: &[(&str, &str)],
) -> Child {
    let child = orderhook(dir)
        .env("DATABASE_URL", db_url)
        .env(
            "ORDERHOOK_ENCRYPTION_KEY",
            crate::helpers::TEST_ENCRYPTION_KEY,
        )
        .env("ORDERHOOK_ADDR", format!("127.0.0.1:{port}"))
        .env("ORDERHOOK_ADMIN_TOKEN", crate::helpers::ADMIN_TOKEN)
        .env("ORDERHOOK_DELIVERY__ALLOW_PRIVATE_DESTINATIONS", "true")
        .env("ORDERHOOK_RETRY__RETRY_DELAYS_MS", "100")
        .env("ORDERHOOK_RETRY__MAX_RETRIES", "1000")
        .envs(env.iter().copied())
        .spawn()
        .unwrap();
    // Generous: the scale-out tests start three at once on a busy machine.
    let up = crate::helpers::eventually(Duration::from_secs(30), || async {
        reqwest::get(format!("http://127.0.0.1:{port}/health"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(up, "orderhook answers on port {port}");
    child
}

#[tokio::test]
async fn a_kill_9_loses_no_acknowledged_event_and_delivery_resumes_in_order() {
    let db = crate::helpers::TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let sink = crate::sink::Sink::start().await;
    sink.answer_by_default(503);
    let port = free_port();
    let mut first = start_on(&db.url, dir.path(), port).await;
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let registered = http
        .post(format!("{base}/api/webhooks/register"))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .json(&serde_json::json!({
            "clientId": "c1", "provider": "jahez", "url": sink.url,
            "events": ["order_action"], "secretKey": "jahez-secret-0123456789",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let mut acknowledged = Vec::new();
    for _ in 0..10 {
        let response = http
            .post(format!("{base}/webhooks/jahez/c1"))
            .bearer_auth("jahez-secret-0123456789")
            .body(crate::helpers::order_body("order_action"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let answer: serde_json::Value = response.json().await.unwrap();
        acknowledged.push(answer["eventId"].as_str().unwrap().to_owned());
    }
    assert!(
        crate::helpers::eventually(Duration::from_secs(5), || async {
            sink.received().len() >= 2
        })
        .await
    );
    first.kill().unwrap(); // SIGKILL: no shutdown, no flush
    first.wait().unwrap();

    sink.answer_by_default(200);
    let port = free_port();
    let mut second = start_on(&db.url, dir.path(), port).await;
    let delivered = sink.wait_for_accepted(10, Duration::from_secs(20)).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(
        delivered,
        "delivered {} of 10 after the crash",
        sink.accepted_ids().len()
    );
    assert_eq!(
        sink.accepted_ids(),
        acknowledged,
        "every acknowledged event, in order, once"
    );
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = orderhook(dir.path())
        .env("ORDERHOOK_WRITER__MAX_BATCH_ROWS", "plenty")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("writer.max_batch_rows"), "{stderr}");

    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[writer]\nmax_batch_rows = 0\n").unwrap();
    let output = orderhook(dir.path())
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("writer.max_batch_rows"), "{stderr}");

    std::fs::write(&file, "[writer\n").unwrap();
    let output = orderhook(dir.path())
        .env("ORDERHOOK_CONFIG", &file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml"),
        "the broken file is named: {stderr}"
    );
}

#[tokio::test]
async fn json_logs_carry_the_request_span_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = orderhook(dir.path())
        .env("ORDERHOOK_ADDR", format!("127.0.0.1:{port}"))
        .env("ORDERHOOK_ADMIN_TOKEN", crate::helpers::ADMIN_TOKEN)
        .env("ORDERHOOK_LOG__FORMAT", "json")
        .env("RUST_LOG", "orderhook=debug")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let up = crate::helpers::eventually(Duration::from_secs(10), || async {
        reqwest::get(format!("{base}/health/live")).await.is_ok()
    })
    .await;
    assert!(up);
    let http = reqwest::Client::new();
    let secret = "jahez-log-secret-0123456789";
    let registered = http
        .post(format!("{base}/api/webhooks/register"))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .json(&serde_json::json!({
            "clientId": "c1", "provider": "jahez", "url": "https://1.1.1.1/orders",
            "events": ["order_action"], "secretKey": secret,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let answer: serde_json::Value = http
        .post(format!("{base}/webhooks/jahez/c1"))
        .bearer_auth(secret)
        .body(crate::helpers::order_body("order_action"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event_id = answer["eventId"].as_str().unwrap().to_owned();

    terminate(&child);
    wait_for_exit(&mut child, Duration::from_secs(15));
    let mut output = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut output).unwrap();
    assert!(!output.contains(secret), "no secret in the logs");
    let accepted = output
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["fields"]["message"] == "webhook accepted")
        .unwrap_or_else(|| panic!("no accepted line in:\n{output}"));
    let span = &accepted["span"];
    assert_eq!(span["client_id"], "c1", "{accepted}");
    assert_eq!(span["provider"], "jahez");
    assert_eq!(span["event_id"], event_id);
    assert!(span["request_id"].as_str().is_some_and(|id| !id.is_empty()));
}
