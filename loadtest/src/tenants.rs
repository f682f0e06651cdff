//! The run's tenants: registered through the operator API like any
//! integration, each pointed at its own path on the sink.

use std::sync::Arc;

use anyhow::Context as _;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::payload::OrderTemplate;
use crate::providers::Provider;
use crate::sink::Sink;

/// Registrations in flight at once.
const REGISTER_CONCURRENCY: usize = 32;

pub struct Tenant {
    pub index: usize,
    pub client_id: String,
    pub provider: Provider,
    pub secret: String,
    pub template: OrderTemplate,
    /// `/webhooks/{provider}/{clientId}`
    pub path: String,
}

impl Tenant {
    fn new(run: u32, index: usize) -> Self {
        let provider = Provider::of_tenant(index);
        let client_id = format!("lt{run:08x}-{index}");
        Self {
            index,
            path: format!("/webhooks/{}/{client_id}", provider.name()),
            secret: format!("loadtest-secret-{run:08x}-{index}"),
            template: OrderTemplate::new(provider.event_type()),
            provider,
            client_id,
        }
    }
}

pub struct Api {
    pub client: reqwest::Client,
    pub target: String,
    pub admin_token: String,
}

impl Api {
    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<String> {
        let response = request
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .with_context(|| format!("{what}: no answer"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        anyhow::ensure!(status.is_success(), "{what}: {status} {text}");
        Ok(text)
    }

    /// The tenant's undelivered events, as the server counts them in its store.
    pub async fn queue_depth(&self, tenant: &Tenant) -> anyhow::Result<u64> {
        let url = format!(
            "{}/api/tenants/{}/{}/health",
            self.target,
            tenant.client_id,
            tenant.provider.name()
        );
        let text = self.send(self.client.get(url), "tenant health").await?;
        let health: serde_json::Value = serde_json::from_str(&text)?;
        health["queueDepth"]
            .as_u64()
            .context("tenant health has no queueDepth")
    }
}

pub struct Setup {
    pub run: u32,
    /// Raise each tenant's rate limit out of the way, so throughput is measured.
    pub lift_rate_limits: bool,
}

/// Registers `active` tenants pointed at the sink, then `idle` more that are
/// never sent to. Returns the active ones.
pub async fn register(
    api: &Arc<Api>,
    sink: &Sink,
    setup: Setup,
    active: usize,
    idle: usize,
) -> anyhow::Result<Vec<Tenant>> {
    let permits = Arc::new(Semaphore::new(REGISTER_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for index in 0..active + idle {
        let tenant = Tenant::new(setup.run, index);
        let url = sink.url_for(index);
        let api = api.clone();
        let permit = permits.clone().acquire_owned().await?;
        let configure = index < active;
        let lift = setup.lift_rate_limits;
        tasks.spawn(async move {
            let _permit = permit;
            register_one(&api, &tenant, &url, configure, lift).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok((0..active).map(|i| Tenant::new(setup.run, i)).collect())
}

async fn register_one(
    api: &Api,
    tenant: &Tenant,
    url: &str,
    configure: bool,
    lift_rate_limits: bool,
) -> anyhow::Result<()> {
    let registration = json!({
        "clientId": tenant.client_id,
        "provider": tenant.provider.name(),
        "url": url,
        "events": [tenant.provider.event_type()],
        "secretKey": tenant.secret,
    });
    api.send(
        api.client
            .post(format!("{}/api/webhooks/register", api.target))
            .json(&registration),
        "register",
    )
    .await?;
    if !configure {
        return Ok(());
    }
    // Quick, many retries: a failing sink delays delivery but never kills an event.
    let mut config = json!({
        "retryPolicy": {
            "maxRetries": 20,
            "retryDelays": [100, 200, 400, 800, 1000],
            "exponentialBackoff": false,
        }
    });
    if lift_rate_limits {
        config["security"] = json!({
            "rateLimiting": { "enabled": true, "maxRequests": 10_000_000, "windowMs": 60_000 }
        });
    }
    api.send(
        api.client
            .put(format!(
                "{}/api/webhooks/config/{}",
                api.target, tenant.client_id
            ))
            .json(&config),
        "client config",
    )
    .await?;
    Ok(())
}
