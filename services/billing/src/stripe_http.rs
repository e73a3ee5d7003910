//! Stripe's API over HTTPS, for the [`StripeApi`] billing calls: form-encoded POSTs with the
//! secret key, each with an idempotency key derived from our own ids, so a retry after a lost
//! answer never creates a second customer or invoice. Hand-written rather than async-stripe: three
//! calls, no types worth the crate's compile time (its 1.0 is a release candidate), and the
//! idempotency keys and metadata are ours to choose either way.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::stripe_client::{InvoiceToCollect, StripeApi};

pub const DEFAULT_URL: &str = "https://api.stripe.com";
/// The API version the requests are written for.
const STRIPE_VERSION: &str = "2024-06-20";
const TIMEOUT: Duration = Duration::from_secs(20);

pub struct StripeHttp {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: String,
    key: String,
}

impl StripeHttp {
    /// `url` is Stripe's (or a test peer's); `key` the secret key.
    pub fn new(url: &str, key: &str) -> Result<Self, String> {
        // The provider named, not the process default: both of rustls's are compiled in.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("no root certificates for Stripe's API: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            url: url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
        })
    }

    /// POSTs the form; the created object's `id`.
    async fn post(
        &self,
        path: &str,
        idempotency_key: &str,
        form: &[(&str, String)],
    ) -> Result<String, String> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.url))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("Idempotency-Key", idempotency_key)
            .header("Stripe-Version", STRIPE_VERSION)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("{path}: {e}"))?;
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| {
                format!(
                    "{path}: Stripe did not answer within {} s",
                    TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        let bytes = tokio::time::timeout(TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| format!("{path}: Stripe's answer stalled"))?
            .map_err(|e| format!("{path}: {e}"))?
            .to_bytes();
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if !status.is_success() {
            let message = answer
                .pointer("/error/message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("no message");
            return Err(format!("{path}: Stripe answered {status}: {message}"));
        }
        answer
            .get("id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{path}: Stripe's answer has no id"))
    }
}

/// application/x-www-form-urlencoded, byte by byte.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[async_trait::async_trait]
impl StripeApi for StripeHttp {
    async fn create_customer(&self, tenant_id: &str) -> Result<String, String> {
        self.post(
            "/v1/customers",
            &format!("customer-{tenant_id}"),
            &[
                ("description", format!("Spot Optimizer tenant {tenant_id}")),
                ("metadata[tenant_id]", tenant_id.to_owned()),
            ],
        )
        .await
    }

    async fn create_invoice(&self, invoice: &InvoiceToCollect) -> Result<String, String> {
        let metadata = [
            ("metadata[tenant_id]", invoice.tenant_id.clone()),
            ("metadata[invoice_id]", invoice.invoice_id.clone()),
        ];
        let mut draft = vec![
            ("customer", invoice.customer_id.clone()),
            ("collection_method", "charge_automatically".to_owned()),
            // Stripe must not finalize the draft before its item is on it.
            ("auto_advance", "false".to_owned()),
            ("currency", invoice.currency.to_lowercase()),
            ("description", invoice.description.clone()),
            ("pending_invoice_items_behavior", "exclude".to_owned()),
        ];
        draft.extend(metadata.iter().cloned());
        let stripe_id = self
            .post(
                "/v1/invoices",
                &format!("invoice-{}", invoice.invoice_id),
                &draft,
            )
            .await?;
        let mut item = vec![
            ("customer", invoice.customer_id.clone()),
            ("invoice", stripe_id.clone()),
            ("amount", invoice.total_minor_units.to_string()),
            ("currency", invoice.currency.to_lowercase()),
            ("description", invoice.description.clone()),
        ];
        item.extend(metadata.iter().cloned());
        self.post(
            "/v1/invoiceitems",
            &format!("invoice-item-{}", invoice.invoice_id),
            &item,
        )
        .await?;
        // Finalized with the item on it; from here Stripe collects it.
        self.post(
            &format!("/v1/invoices/{stripe_id}/finalize"),
            &format!("finalize-{}", invoice.invoice_id),
            &[("auto_advance", "true".to_owned())],
        )
        .await?;
        Ok(stripe_id)
    }
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn forms_are_encoded_as_stripe_reads_them() {
        assert_eq!(encode("metadata[tenant_id]"), "metadata%5Btenant_id%5D");
        assert_eq!(encode("Spot Optimizer: 20 %"), "Spot+Optimizer%3A+20+%25");
    }
}
