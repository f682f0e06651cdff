//! Wiring: settings → store → engine → HTTP server, and shutdown in reverse.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ipnet::IpNet;
use orderhook_actors::Engine;
use orderhook_actors::store::Store;
use secrecy::SecretString;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::delivery::HttpDeliverer;
use crate::registrations::Registrations;
use crate::server::{self, ConnectionLimits};
use crate::{http, secrets, store};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    pub registrations: Registrations,
    pub admin_token: SecretString,
    /// `security.trusted_proxies`, parsed: whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// "postgres" or "embedded", for health output.
    pub store_kind: &'static str,
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// A built application: store open, engine running, listener bound.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    retention: tokio::task::JoinHandle<()>,
    /// Set when no admin token was configured and one was generated for this run.
    pub generated_admin_token: bool,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = store::open(&settings).await?;
        Self::build_with_store(settings, store).await
    }

    /// Builds over a store already opened: for embedding orderhook with a
    /// store of one's own making.
    pub async fn build_with_store(
        settings: Settings,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Self> {
        for provider in crate::providers::ALL {
            if !settings.providers.contains_key(provider.name()) {
                anyhow::bail!(
                    "configuration key `providers.{}` is missing",
                    provider.name()
                );
            }
        }
        if let Some(name) = settings
            .providers
            .keys()
            .find(|name| crate::providers::find(name).is_none())
        {
            anyhow::bail!("configuration key `providers.{name}`: no such provider is implemented");
        }
        // Bound first: if the address is taken, no engine has started delivering.
        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("binding {}", settings.addr))?;
        // Installed before anything records, so nothing recorded is lost.
        crate::telemetry::prometheus();
        // The Postgres store made today's partitions when it opened; the first
        // pass here runs at once, in the background.
        let retention = crate::retention::spawn(
            store.clone(),
            settings.retention(),
            Duration::from_millis(settings.retention.interval_ms),
        );
        let deliverer = HttpDeliverer::new(
            Duration::from_millis(settings.delivery.timeout_ms),
            settings.delivery.allow_private_destinations,
        )
        .context("building the delivery client")?;
        let engine = Engine::start(store.clone(), Arc::new(deliverer), settings.engine_config())
            .await
            .context("starting the engine")?;
        let (admin_token, generated_admin_token) = match settings.admin_token.clone() {
            Some(token) => (token, false),
            None => (secrets::generate(), true),
        };
        let state = AppState(Arc::new(Shared {
            store_kind: store::kind(&settings.store),
            registrations: Registrations::new(
                store.clone(),
                Duration::from_millis(settings.tenants.registration_cache_ttl_ms),
            ),
            store,
            engine,
            trusted_proxies: settings
                .security
                .trusted_proxies
                .iter()
                .filter_map(|proxy| http::client_ip::parse_net(proxy))
                .collect(),
            settings,
            admin_token,
        }));
        Ok(Self {
            listener,
            state,
            retention,
            generated_admin_token,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes requests in flight,
    /// stops the tenant actors and lets the writer commit what it holds.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let settings = &self.state.settings.server;
        let grace = Duration::from_millis(settings.shutdown_timeout_ms);
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_millis(settings.header_read_timeout_ms),
            max_headers: settings.max_headers,
        };
        let router = http::router(self.state.clone());
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(self.listener, router, limits, async move {
            shutdown.await;
            let _ = stopping.send(());
        }));
        // Requests in flight get `grace` to finish once shutdown begins.
        let served = async {
            let _ = stopped.await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = server => result.context("server task")?,
            () = served => tracing::warn!("requests still in flight after the shutdown grace period"),
        }
        self.retention.abort();
        self.state.engine.shutdown(grace).await;
        Ok(())
    }
}
