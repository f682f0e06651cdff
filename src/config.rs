//! Configuration: one typed struct, layered from the defaults built into the
//! binary (config/default.toml), an optional file, then environment variables
//! (`ORDERHOOK_<SECTION>__<KEY>`, plus `DATABASE_URL`), and validated at
//! start-up with messages that name the offending key.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../config/default.toml");
const ENV_PREFIX: &str = "ORDERHOOK";
/// Names the config file; read by the CLI, not a key of the file.
pub const CONFIG_FILE_ENV: &str = "ORDERHOOK_CONFIG";
/// Keys holding lists, given in the environment comma-separated.
const LIST_KEYS: &[(&str, &str)] = &[
    ("ORDERHOOK_RETRY__RETRY_DELAYS_MS", "retry.retry_delays_ms"),
    (
        "ORDERHOOK_SECURITY__TRUSTED_PROXIES",
        "security.trusted_proxies",
    ),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub addr: SocketAddr,
    pub base_url: String,
    pub admin_token: Option<SecretString>,
    /// 32 bytes, base64: the key tenants' secrets are sealed with at rest.
    pub encryption_key: Option<SecretString>,
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub writer: WriterSettings,
    pub ingest: IngestSettings,
    pub tenants: TenantSettings,
    pub security: SecuritySettings,
    pub delivery: DeliverySettings,
    pub leases: LeaseSettings,
    pub retention: RetentionSettings,
    pub retry: RetrySettings,
    pub providers: BTreeMap<String, ProviderSettings>,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
}

/// How long events are kept, and the store's layout in time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    pub max_age_s: u64,
    pub interval_ms: u64,
    pub partition_span_s: u64,
    pub partitions_ahead: u32,
}

/// Delivery leases (Postgres only): which instance delivers which tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseSettings {
    pub ttl_ms: u64,
    pub heartbeat_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Label `webhook_requests_total` by client: one series per tenant and status.
    pub client_id_label: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub body_limit_bytes: usize,
    pub request_timeout_ms: u64,
    pub header_read_timeout_ms: u64,
    pub max_headers: usize,
    pub shutdown_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    pub url: Option<SecretString>,
    pub data_dir: PathBuf,
    pub pool_size: usize,
    pub connect_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterSettings {
    pub max_batch_rows: usize,
    pub max_batch_delay_ms: u64,
    pub queue_capacity: usize,
    pub commit_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    pub timeout_ms: u64,
    pub rejected_body_bytes: usize,
    pub dedup_window_s: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    pub max_in_flight: usize,
    pub idle_timeout_ms: u64,
    pub registration_cache_ttl_ms: u64,
    pub restart_backoff_ms: u64,
    pub restart_backoff_max_ms: u64,
    pub refusal_log_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub allow_disabling_signatures: bool,
    /// IPs or CIDRs.
    pub trusted_proxies: Vec<String>,
    pub rotation_grace_s: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    pub allow_private_destinations: bool,
    pub timeout_ms: u64,
    pub window: usize,
    pub failing_after: u32,
    pub probe_interval_ms: u64,
    pub reconcile_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    pub max_retries: u32,
    pub retry_delays_ms: Vec<u64>,
    pub exponential_backoff: bool,
    pub jitter: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub events: Vec<String>,
    pub rate_limit: RateLimitSettings,
}

/// Per-tenant request limits; a window left out is not limited.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
    pub burst: Option<u32>,
    pub burst_window_s: Option<u32>,
}

impl RateLimitSettings {
    /// The windows a tenant of this provider is held to, named as errors and health name them.
    pub fn windows(&self) -> Vec<orderhook_actors::limiter::RateWindow> {
        use orderhook_actors::limiter::RateWindow;
        let window = |name: &str, limit: Option<u32>, seconds: u64| {
            limit.map(|limit| RateWindow {
                name: name.into(),
                limit,
                period: Duration::from_secs(seconds),
            })
        };
        [
            window(
                "burst",
                self.burst,
                u64::from(self.burst_window_s.unwrap_or(10)),
            ),
            window("per_minute", self.per_minute, 60),
            window("per_hour", self.per_hour, 3600),
            window("per_day", self.per_day, 86_400),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

impl Settings {
    /// Loads the layered configuration. `env` is the process environment in
    /// production; tests pass their own.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut prefixed = HashMap::new();
        let mut lists = Vec::new();
        let mut database_url = None;
        for (name, value) in env {
            if name == "DATABASE_URL" {
                database_url = Some(value);
            } else if let Some((_, key)) = LIST_KEYS.iter().find(|(var, _)| *var == name) {
                // Read here, not by the env source, which would take a single
                // value ("150") for a number rather than a one-item list.
                let items: Vec<String> = value
                    .split(',')
                    .map(|item| item.trim().to_owned())
                    .collect();
                lists.push((*key, items));
            } else if name.starts_with("ORDERHOOK_") && name != CONFIG_FILE_ENV {
                prefixed.insert(name, value);
            }
        }
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(file) = file {
            builder = builder.add_source(File::from(file).required(true));
        }
        builder = builder.add_source(
            Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(prefixed.into_iter().collect())),
        );
        for (key, items) in lists {
            builder = builder.set_override(key, items)?;
        }
        if let Some(url) = database_url.filter(|url| !url.is_empty()) {
            builder = builder.set_override("store.url", url)?;
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let base = url::Url::parse(&self.base_url)
            .map_err(|err| invalid("base_url", format!("not a URL: {err}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("base_url", "must be an http or https URL"));
        }
        let positive = [
            (
                "server.body_limit_bytes",
                self.server.body_limit_bytes as u64,
            ),
            ("server.request_timeout_ms", self.server.request_timeout_ms),
            (
                "server.header_read_timeout_ms",
                self.server.header_read_timeout_ms,
            ),
            ("server.max_headers", self.server.max_headers as u64),
            ("store.pool_size", self.store.pool_size as u64),
            ("store.connect_timeout_ms", self.store.connect_timeout_ms),
            ("writer.max_batch_rows", self.writer.max_batch_rows as u64),
            ("writer.queue_capacity", self.writer.queue_capacity as u64),
            ("writer.commit_timeout_ms", self.writer.commit_timeout_ms),
            ("ingest.timeout_ms", self.ingest.timeout_ms),
            ("tenants.max_in_flight", self.tenants.max_in_flight as u64),
            (
                "tenants.restart_backoff_ms",
                self.tenants.restart_backoff_ms,
            ),
            ("delivery.timeout_ms", self.delivery.timeout_ms),
            ("delivery.window", self.delivery.window as u64),
            (
                "delivery.failing_after",
                u64::from(self.delivery.failing_after),
            ),
            (
                "delivery.reconcile_interval_ms",
                self.delivery.reconcile_interval_ms,
            ),
            ("leases.heartbeat_ms", self.leases.heartbeat_ms),
            ("retention.max_age_s", self.retention.max_age_s),
            ("retention.interval_ms", self.retention.interval_ms),
            (
                "retention.partition_span_s",
                self.retention.partition_span_s,
            ),
            (
                "retention.partitions_ahead",
                u64::from(self.retention.partitions_ahead),
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(invalid(key, "must be greater than zero"));
            }
        }
        if self.leases.ttl_ms < 2 * self.leases.heartbeat_ms {
            return Err(invalid(
                "leases.ttl_ms",
                "must be at least twice leases.heartbeat_ms, or leases lapse between heartbeats",
            ));
        }
        if self.retry.retry_delays_ms.is_empty() {
            return Err(invalid(
                "retry.retry_delays_ms",
                "must list at least one delay",
            ));
        }
        if self.providers.is_empty() {
            return Err(invalid("providers", "no provider is configured"));
        }
        for (name, provider) in &self.providers {
            if provider.events.is_empty() || provider.events.iter().any(String::is_empty) {
                return Err(invalid(
                    &format!("providers.{name}.events"),
                    "must list non-empty event types",
                ));
            }
        }
        Ok(())
    }

    pub fn retention(&self) -> orderhook_actors::store::Retention {
        orderhook_actors::store::Retention {
            max_age: Duration::from_secs(self.retention.max_age_s),
            partition_span: Duration::from_secs(self.retention.partition_span_s),
            partitions_ahead: self.retention.partitions_ahead,
        }
    }

    pub fn base_url(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    pub fn dedup_window(&self) -> Duration {
        Duration::from_secs(self.ingest.dedup_window_s)
    }

    /// The server-side bound on one batch: the writer's commit timeout.
    pub fn statement_timeout(&self) -> Duration {
        Duration::from_millis(self.writer.commit_timeout_ms)
    }

    pub fn engine_config(&self) -> orderhook_actors::EngineConfig {
        use orderhook_actors::delivery::DeliveryConfig;
        use orderhook_actors::retry::RetryPolicy;
        use orderhook_actors::supervisor::TenantsConfig;
        use orderhook_actors::writer::WriterConfig;
        orderhook_actors::EngineConfig {
            writer: WriterConfig {
                max_rows: self.writer.max_batch_rows,
                max_delay: Duration::from_millis(self.writer.max_batch_delay_ms),
                queue_capacity: self.writer.queue_capacity,
                // A little over the server's statement timeout, so the server
                // cancels a slow batch first; this only catches a dead network.
                commit_timeout: self.statement_timeout() + Duration::from_secs(1),
            },
            tenants: TenantsConfig {
                max_in_flight: self.tenants.max_in_flight,
                idle_timeout: Duration::from_millis(self.tenants.idle_timeout_ms),
                restart_backoff: Duration::from_millis(self.tenants.restart_backoff_ms),
                restart_backoff_max: Duration::from_millis(self.tenants.restart_backoff_max_ms),
                refusal_log_interval: Duration::from_millis(self.tenants.refusal_log_interval_ms),
            },
            delivery: DeliveryConfig {
                retry: RetryPolicy {
                    max_retries: self.retry.max_retries,
                    delays: self
                        .retry
                        .retry_delays_ms
                        .iter()
                        .map(|ms| Duration::from_millis(*ms))
                        .collect(),
                    exponential_backoff: self.retry.exponential_backoff,
                    jitter: self.retry.jitter,
                },
                window: self.delivery.window,
                failing_after: self.delivery.failing_after,
                probe_interval: Duration::from_millis(self.delivery.probe_interval_ms),
                reconcile_interval: Duration::from_millis(self.delivery.reconcile_interval_ms),
            },
            rate_limits: self
                .providers
                .iter()
                .map(|(name, provider)| (name.clone(), provider.rate_limit.windows()))
                .collect(),
            ingest_timeout: Duration::from_millis(self.ingest.timeout_ms),
            start_timeout: Duration::from_secs(5),
            leases: orderhook_actors::lease::LeaseConfig {
                ttl: Duration::from_millis(self.leases.ttl_ms),
                heartbeat: Duration::from_millis(self.leases.heartbeat_ms),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn built_in_defaults_load_and_match_the_seed() {
        let settings = Settings::load(None, env(&[])).unwrap();
        assert_eq!(settings.addr.to_string(), "0.0.0.0:4000");
        assert_eq!(settings.server.body_limit_bytes, 1024 * 1024);
        assert_eq!(settings.server.request_timeout_ms, 30_000);
        assert!(settings.store.url.is_none());
        let careem = &settings.providers["careem"];
        assert_eq!(careem.rate_limit.per_minute, Some(1000));
        assert_eq!(careem.rate_limit.burst, Some(200));
        let windows: Vec<(String, u32, u64)> = careem
            .rate_limit
            .windows()
            .into_iter()
            .map(|w| (w.name, w.limit, w.period.as_secs()))
            .collect();
        assert_eq!(
            windows,
            [
                ("burst".into(), 200, 10),
                ("per_minute".into(), 1000, 60),
                ("per_hour".into(), 10_000, 3600),
                ("per_day".into(), 100_000, 86_400)
            ]
        );
        assert!(careem.events.iter().any(|e| e == "order.created"));
        assert_eq!(settings.retry.retry_delays_ms, [1000, 5000, 10000]);
    }

    #[test]
    fn environment_overrides_nested_and_top_level_keys() {
        let settings = Settings::load(
            None,
            env(&[
                ("ORDERHOOK_ADDR", "127.0.0.1:5000"),
                ("ORDERHOOK_BASE_URL", "https://hooks.example.com/"),
                ("ORDERHOOK_DELIVERY__ALLOW_PRIVATE_DESTINATIONS", "true"),
                ("ORDERHOOK_WRITER__MAX_BATCH_ROWS", "64"),
                ("ORDERHOOK_RETRY__RETRY_DELAYS_MS", "10,20"),
                ("ORDERHOOK_CONFIG", "/not/read/here.toml"),
                ("DATABASE_URL", "postgres://db/orderhook"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.addr.port(), 5000);
        assert_eq!(settings.base_url(), "https://hooks.example.com");
        assert!(settings.delivery.allow_private_destinations);
        assert_eq!(settings.writer.max_batch_rows, 64);
        assert_eq!(settings.retry.retry_delays_ms, [10, 20]);
        assert!(settings.store.url.is_some());

        let one =
            Settings::load(None, env(&[("ORDERHOOK_RETRY__RETRY_DELAYS_MS", "150")])).unwrap();
        assert_eq!(
            one.retry.retry_delays_ms,
            [150],
            "a single value is a one-item list"
        );
        let err = Settings::load(None, env(&[("ORDERHOOK_RETRY__RETRY_DELAYS_MS", "1,soon")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("retry.retry_delays_ms"), "{err}");
    }

    #[test]
    fn a_file_overrides_defaults_and_env_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("orderhook-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("local.toml");
        std::fs::write(&file, "[writer]\nmax_batch_rows = 7\nqueue_capacity = 9\n").unwrap();
        let settings = Settings::load(
            Some(&file),
            env(&[("ORDERHOOK_WRITER__QUEUE_CAPACITY", "11")]),
        )
        .unwrap();
        assert_eq!(settings.writer.max_batch_rows, 7);
        assert_eq!(settings.writer.queue_capacity, 11);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = Settings::load(None, env(&[("ORDERHOOK_WRITER__MAX_BATCH_ROWS", "lots")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("writer.max_batch_rows"), "{err}");

        let err = Settings::load(None, env(&[("ORDERHOOK_WRITER__MAX_BATCH_ROWS", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("writer.max_batch_rows"), "{err}");

        let err = Settings::load(None, env(&[("ORDERHOOK_BASE_URL", "ftp://x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("base_url"), "{err}");

        let err = Settings::load(None, env(&[("ORDERHOOK_ADDR", "not an address")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("addr"), "{err}");
    }

    #[test]
    fn unknown_keys_and_missing_files_stop_start_up() {
        let err = Settings::load(None, env(&[("ORDERHOOK_WRITER__MAX_BATCH_ROW", "5")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_batch_row"), "{err}");

        let missing = Path::new("/nonexistent/orderhook.toml");
        assert!(Settings::load(Some(missing), env(&[])).is_err());
    }
}
