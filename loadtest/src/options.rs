//! What a run does, as command-line flags. The names are an interface:
//! scripts under loadtest/scenarios depend on them.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Connections of the closed model when neither --rate nor --connections is given.
pub const DEFAULT_CONNECTIONS: usize = 64;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "orderhook-loadtest",
    about = "Drives signed webhooks into orderhook, plays the clients' endpoints, and checks every accepted event arrives once and in order"
)]
pub struct Options {
    /// The orderhook (or nginx) base URL.
    #[arg(long, default_value = "http://127.0.0.1:4000")]
    pub target: String,
    /// The operator token, to register tenants and read their backlog.
    #[arg(long, env = "ORDERHOOK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    /// Tenants sent to, spread over the four providers.
    #[arg(long, default_value_t = 8)]
    pub tenants: usize,
    /// Further tenants registered but never sent to (memory of a large, mostly idle fleet).
    #[arg(long, default_value_t = 0)]
    pub idle_tenants: usize,
    /// How long load is offered.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Open model: this many requests per second, scheduled by the clock.
    #[arg(long, conflicts_with = "connections")]
    pub rate: Option<u32>,
    /// Closed model: this many connections, each sending as soon as it is answered (default 64).
    #[arg(long)]
    pub connections: Option<usize>,
    /// Fraction of deliveries the sink answers 500.
    #[arg(long, default_value_t = 0.0)]
    pub sink_fail_rate: f64,
    /// Fail only for this long after the load starts, then recover (default: the whole run).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub sink_fail_for: Option<Duration>,
    /// How long the sink takes to answer each delivery.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub sink_delay: Duration,
    /// The first N tenants' endpoints answer 503 to everything for the whole run.
    #[arg(long, default_value_t = 0)]
    pub down_tenants: usize,
    /// Fraction of requests whose connection is cut before the answer is read.
    #[arg(long, default_value_t = 0.0)]
    pub abandon_rate: f64,
    /// How long the baseline (GET /health/live, same model) runs before ingest; 0s skips it.
    /// Default: the shorter of --duration and 5s.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub baseline_duration: Option<Duration>,
    /// Longest to wait after the load for every accepted event to be delivered.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    /// After draining, keep watching the server's memory this long (idle tenants stop).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub idle_after: Duration,
    /// The server's process id, to report its resident memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Keep the providers' rate limits (by default each tenant's limit is raised out of the way).
    #[arg(long)]
    pub keep_rate_limits: bool,
    /// Write the JSON report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// No progress line and no summary.
    #[arg(long)]
    pub quiet: bool,
}

impl Options {
    /// Options for `target` with every other flag at its default.
    pub fn new(target: impl Into<String>, admin_token: impl Into<String>) -> Self {
        let mut options = Self::parse_from(["orderhook-loadtest", "--admin-token", "unset"]);
        options.target = target.into();
        options.admin_token = admin_token.into();
        options
    }

    pub fn model(&self) -> Model {
        match (self.rate, self.connections) {
            (Some(rate), _) => Model::Open { rate },
            (None, connections) => Model::Closed {
                connections: connections.unwrap_or(DEFAULT_CONNECTIONS),
            },
        }
    }

    pub fn baseline_duration(&self) -> Duration {
        self.baseline_duration
            .unwrap_or_else(|| self.duration.min(Duration::from_secs(5)))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.tenants > 0, "--tenants must be at least 1");
        anyhow::ensure!(
            self.down_tenants < self.tenants,
            "--down-tenants must leave at least one tenant up"
        );
        for (flag, fraction) in [
            ("--sink-fail-rate", self.sink_fail_rate),
            ("--abandon-rate", self.abandon_rate),
        ] {
            anyhow::ensure!((0.0..1.0).contains(&fraction), "{flag} must be in [0, 1)");
        }
        if let Model::Open { rate } = self.model() {
            anyhow::ensure!(rate > 0, "--rate must be at least 1");
        }
        if let Model::Closed { connections } = self.model() {
            anyhow::ensure!(connections > 0, "--connections must be at least 1");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Requests scheduled by the clock; latency counts from the scheduled moment.
    Open { rate: u32 },
    /// Each connection sends its next request when the last is answered.
    Closed { connections: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_interface_parses() {
        let options = Options::try_parse_from([
            "orderhook-loadtest",
            "--target",
            "http://127.0.0.1:4000",
            "--admin-token",
            "T",
            "--tenants",
            "3",
            "--duration",
            "10s",
            "--rate",
            "500",
            "--sink-fail-rate",
            "0.3",
            "--report",
            "report.json",
        ])
        .unwrap();
        assert_eq!(options.model(), Model::Open { rate: 500 });
        assert_eq!(options.duration, Duration::from_secs(10));
        assert_eq!(options.baseline_duration(), Duration::from_secs(5));
        options.validate().unwrap();
    }

    #[test]
    fn rate_and_connections_exclude_each_other_and_closed_is_the_default() {
        let both = Options::try_parse_from([
            "orderhook-loadtest",
            "--admin-token",
            "T",
            "--rate",
            "1",
            "--connections",
            "2",
        ]);
        assert!(both.is_err());
        let options = Options::new("http://x:1", "T");
        assert_eq!(options.model(), Model::Closed { connections: 64 });
    }

    #[test]
    fn nonsense_is_refused_by_name() {
        let mut options = Options::new("http://x:1", "T");
        options.sink_fail_rate = 1.5;
        let err = options.validate().unwrap_err().to_string();
        assert!(err.contains("--sink-fail-rate"), "{err}");
        options.sink_fail_rate = 0.0;
        options.down_tenants = options.tenants;
        assert!(options.validate().is_err());
    }
}
