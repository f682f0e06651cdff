//! The HTTP side of delivery: one POST per attempt, pooled connections, the
//! Standard Webhooks headers, a bounded read of the answer.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use orderhook_actors::delivery::{Deliverer, DeliveryOutcome, DeliveryRequest};
use orderhook_actors::domain::EventId;
use reqwest::redirect::Policy;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

use super::destination::{self, PublicOnlyResolver};
use super::signing;

/// Most of a client's answer read back.
const RESPONSE_LIMIT: usize = 4096;

pub struct HttpDeliverer {
    client: reqwest::Client,
    allow_private: bool,
}

impl HttpDeliverer {
    pub fn new(timeout: Duration, allow_private: bool) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // A redirect could lead anywhere, private addresses included.
            .redirect(Policy::none())
            .no_proxy()
            .user_agent(concat!("orderhook/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Ok(Self {
            client: builder.build()?,
            allow_private,
        })
    }
}

/// What the client receives: the event in orderhook's words, with the
/// provider's `data` exactly as the provider sent it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    id: EventId,
    /// The tenant's sequence number: consecutive, so a receiver can see order and gaps.
    sequence: i64,
    provider: &'a str,
    client_id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    received_at: String,
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct ProviderPayload<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
}

pub fn envelope(request: &DeliveryRequest) -> Result<Vec<u8>, String> {
    let payload: ProviderPayload<'_> = serde_json::from_str(&request.event.payload)
        .map_err(|err| format!("stored payload is unreadable: {err}"))?;
    let envelope = Envelope {
        id: request.event.id,
        sequence: request.event.seq,
        provider: &request.tenant.provider,
        client_id: &request.tenant.client_id,
        event_type: &request.event.event_type,
        received_at: request
            .event
            .received_at
            .format(&Rfc3339)
            .map_err(|err| err.to_string())?,
        data: payload.data,
    };
    serde_json::to_vec(&envelope).map_err(|err| err.to_string())
}

#[async_trait]
impl Deliverer for HttpDeliverer {
    async fn deliver(&self, request: DeliveryRequest) -> DeliveryOutcome {
        let refused = |error: String| DeliveryOutcome {
            error: Some(error),
            ..DeliveryOutcome::default()
        };
        if !self.allow_private
            && let Some(ip) = destination::literal_ip(&request.url)
            && !destination::is_public(ip)
        {
            return refused(format!("destination refused: {ip} is not a public address"));
        }
        let body = match envelope(&request) {
            Ok(body) => body,
            Err(err) => return refused(err),
        };
        let id = request.event.id.to_string();
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let mut signature = signing::sign(request.secret.expose_secret(), &id, timestamp, &body);
        if let Some(previous) = &request.previous_secret {
            // Standard Webhooks: several signatures, space-separated; any one may match.
            signature.push(' ');
            signature.push_str(&signing::sign(
                previous.expose_secret(),
                &id,
                timestamp,
                &body,
            ));
        }
        let started = Instant::now();
        let sent = self
            .client
            .post(&request.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(err) => {
                return DeliveryOutcome {
                    response_time: started.elapsed(),
                    error: Some(describe(&err)),
                    ..DeliveryOutcome::default()
                };
            }
        };
        let status_code = Some(response.status().as_u16());
        let mut excerpt = Vec::new();
        let mut error = None;
        while excerpt.len() < RESPONSE_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(err) => {
                    error = Some(describe(&err));
                    break;
                }
            }
        }
        excerpt.truncate(RESPONSE_LIMIT);
        DeliveryOutcome {
            status_code,
            response_time: started.elapsed(),
            response_body: (!excerpt.is_empty())
                .then(|| String::from_utf8_lossy(&excerpt).replace('\0', "\u{FFFD}")),
            error,
        }
    }
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        format!("connection failed: {}", source_chain(err))
    } else {
        source_chain(err)
    }
}

/// reqwest's own message is generic; the cause underneath says what happened.
fn source_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}
