//! What every integration test starts from: a fresh Postgres database, the
//! real application on an ephemeral port, and requests signed the way each
//! provider signs them (computed here independently of src/providers).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use orderhook::app::{AppState, Application};
use orderhook::config::Settings;
use orderhook_actors::store::Store;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// 32 bytes of 0x01, base64.
pub const TEST_ENCRYPTION_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// The server every test database is created on. Tests fail, never skip, when it is unreachable.
pub fn postgres_admin_url() -> String {
    std::env::var("ORDERHOOK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A uniquely named database, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        let name = format!("orderhook_test_{}", Uuid::now_v7().simple());
        let admin = admin_client().await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let mut url = url::Url::parse(&postgres_admin_url()).expect("test database URL");
        url.set_path(&name);
        Self {
            name,
            url: url.to_string(),
        }
    }

    /// A client on this database, for checking what the app stored.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on itself.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for dropping the test database");
            runtime.block_on(async {
                let admin = admin_client().await;
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

pub async fn admin_client() -> tokio_postgres::Client {
    connect(&postgres_admin_url()).await
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap_or_else(|err| {
        panic!("Postgres must be reachable at {url} for the tests (set ORDERHOOK_TEST_DATABASE_URL): {err}")
    });
    tokio::spawn(connection);
    client
}

pub enum StoreKind {
    Postgres,
    Embedded,
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub db: Option<TestDb>,
    /// The embedded store's directory, removed when the test ends.
    _data_dir: Option<tempfile::TempDir>,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(StoreKind::Postgres, &[]).await
    }

    /// Starts the app with configuration overrides, as `ORDERHOOK_*` variables would give them.
    pub async fn spawn_with(kind: StoreKind, overrides: &[(&str, &str)]) -> Self {
        let (db, data_dir) = match kind {
            StoreKind::Postgres => (Some(TestDb::create().await), None),
            StoreKind::Embedded => (None, Some(tempfile::tempdir().expect("temp dir"))),
        };
        let settings = test_settings(db.as_ref(), data_dir.as_ref(), overrides);
        Self::start(settings, db, data_dir).await
    }

    /// Starts another app on this one's Postgres database (a restart, or a second instance).
    pub async fn spawn_on_same_store(&self, overrides: &[(&str, &str)]) -> Self {
        let settings = test_settings(self.db.as_ref(), None, overrides);
        Self::start(settings, None, None).await
    }

    /// Builds an app on this one's store without starting it, to see whether it builds.
    pub async fn build_on_same_store(
        &self,
        overrides: &[(&str, &str)],
    ) -> anyhow::Result<Application> {
        Application::build(test_settings(self.db.as_ref(), None, overrides)).await
    }

    async fn start(
        settings: Settings,
        db: Option<TestDb>,
        data_dir: Option<tempfile::TempDir>,
    ) -> Self {
        let app = Application::build(settings)
            .await
            .expect("application builds");
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(app.run_until(shutdown.clone().cancelled_owned()));
        Self {
            base,
            http: reqwest::Client::new(),
            state,
            db,
            _data_dir: data_dir,
            shutdown,
            server: Some(server),
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    /// Stops the server the way SIGTERM does and waits for it.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers a tenant with a known secret; returns the secret.
    pub async fn register(&self, client_id: &str, provider: &str, events: &[&str]) -> String {
        self.register_to(
            client_id,
            provider,
            events,
            "https://pos.example.com/orders",
        )
        .await
    }

    /// Registers a tenant delivering to `url`; returns its secret.
    pub async fn register_to(
        &self,
        client_id: &str,
        provider: &str,
        events: &[&str],
        url: &str,
    ) -> String {
        let secret = format!("secret-{client_id}-{provider}-0123456789");
        let response = self
            .post_register(json!({
                "clientId": client_id,
                "provider": provider,
                "url": url,
                "events": events,
                "secretKey": secret,
            }))
            .await;
        assert!(
            response.status().is_success(),
            "register: {}",
            response.status()
        );
        secret
    }

    pub async fn post_register(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/api/webhooks/register"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("register request")
    }

    /// Posts `body` to the tenant's ingest URL, signed correctly for `provider`.
    pub async fn send_signed(
        &self,
        provider: &str,
        client_id: &str,
        secret: &str,
        body: &str,
    ) -> reqwest::Response {
        let request = self
            .http
            .post(self.url(&format!("/webhooks/{provider}/{client_id}")));
        sign(request, provider, client_id, secret, body)
            .body(body.to_owned())
            .send()
            .await
            .expect("ingest request")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn test_settings(
    db: Option<&TestDb>,
    data_dir: Option<&tempfile::TempDir>,
    overrides: &[(&str, &str)],
) -> Settings {
    let mut env: Vec<(String, String)> = vec![
        ("ORDERHOOK_ADDR".into(), "127.0.0.1:0".into()),
        ("ORDERHOOK_ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
        (
            "ORDERHOOK_ENCRYPTION_KEY".into(),
            TEST_ENCRYPTION_KEY.into(),
        ),
        (
            "ORDERHOOK_BASE_URL".into(),
            "https://hooks.example.com".into(),
        ),
        (
            "ORDERHOOK_DELIVERY__ALLOW_PRIVATE_DESTINATIONS".into(),
            "true".into(),
        ),
        (
            "ORDERHOOK_SERVER__SHUTDOWN_TIMEOUT_MS".into(),
            "2000".into(),
        ),
        ("ORDERHOOK_STORE__POOL_SIZE".into(), "4".into()),
        // A restarted instance takes its predecessor's tenants over within 2 s.
        ("ORDERHOOK_LEASES__TTL_MS".into(), "2000".into()),
        ("ORDERHOOK_LEASES__HEARTBEAT_MS".into(), "200".into()),
        ("ORDERHOOK_STORE__CONNECT_TIMEOUT_MS".into(), "2000".into()),
        // Tests count refusals row by row; sampling has tests of its own.
        (
            "ORDERHOOK_TENANTS__REFUSAL_LOG_INTERVAL_MS".into(),
            "0".into(),
        ),
    ];
    if let Some(db) = db {
        env.push(("DATABASE_URL".into(), db.url.clone()));
    }
    if let Some(dir) = data_dir {
        env.push((
            "ORDERHOOK_STORE__DATA_DIR".into(),
            dir.path().display().to_string(),
        ));
    }
    env.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Settings::load(None, env).expect("test settings")
}

/// A realistic payload for `event_type`, unique per call.
pub fn order_body(event_type: &str) -> String {
    json!({
        "event_type": event_type,
        "timestamp": "2024-09-27T10:30:00Z",
        "data": {
            "order": {
                "id": format!("order_{}", Uuid::now_v7().simple()),
                "status": "confirmed",
                "items": [{ "id": "item_123", "name": "Chicken Shawarma", "quantity": 2, "unit_price": "25.00" }],
                "total_amount": "52.00",
                "currency": "AED"
            }
        }
    })
    .to_string()
}

fn hmac_sha256(secret: &str, message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn careem_headers(
    request: reqwest::RequestBuilder,
    client_id: &str,
    secret: &str,
    body: &str,
    ts: i64,
) -> reqwest::RequestBuilder {
    let signature = hex::encode(hmac_sha256(secret, format!("{ts}.{body}").as_bytes()));
    request
        .header("X-Careem-Signature", signature)
        .header("X-Careem-Timestamp", ts.to_string())
        .header("X-Careem-Client-Id", client_id)
}

pub fn sign(
    request: reqwest::RequestBuilder,
    provider: &str,
    client_id: &str,
    secret: &str,
    body: &str,
) -> reqwest::RequestBuilder {
    let request = request.header("Content-Type", "application/json");
    match provider {
        "careem" => careem_headers(request, client_id, secret, body, now_unix()),
        "talabat" => request.header("X-Talabat-API-Key", secret),
        "deliveroo" => request.header(
            "X-Deliveroo-HMAC-SHA256",
            base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, body.as_bytes())),
        ),
        "jahez" => request.bearer_auth(secret),
        other => panic!("no signing scheme for {other}"),
    }
}

/// Reads a JSON body, failing the test if it is not JSON.
pub async fn json_body(response: reqwest::Response) -> Value {
    let text = response.text().await.expect("response body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text}"))
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
