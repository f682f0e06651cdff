//! The `orderhook` binary as an operator runs it: the README's first command
//! on the embedded default, a generated operator token, SIGTERM, bad config.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn orderhook(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orderhook"));
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("ORDERHOOK_ADMIN_TOKEN")
        .env_remove("ORDERHOOK_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
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

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_for_exit(&mut child, Duration::from_secs(15));
    assert!(status.success(), "a SIGTERM stop is clean: {status}");
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
