//! What billing's tests share: Stripe's webhook over HTTP, signed as Stripe signs it, and rows
//! the optimizer's sampler would have written over a month.

#![allow(dead_code)] // each test file uses its own part

use std::time::Duration;

use sea_orm::ConnectionTrait;
use spot_billing::stripe_signature::sign;
use spot_testkit::TestServer;

pub const WEBHOOK_SECRET: &str = "whsec_test_0123456789";

pub fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Stripe-Signature for `body` at `t`, as Stripe computes it.
pub fn signature(body: &str, t: i64) -> String {
    format!("t={t},v1={}", sign(body.as_bytes(), t, WEBHOOK_SECRET))
}

/// A Stripe event's JSON.
pub fn event(id: &str, kind: &str, created: i64, object: serde_json::Value) -> String {
    serde_json::json!({
        "id": id,
        "object": "event",
        "type": kind,
        "created": created,
        "data": { "object": object },
    })
    .to_string()
}

/// POSTs to `/webhooks/stripe` on the server's public port; the status and body of the answer.
pub async fn post_stripe(test: &TestServer, signature: Option<&str>, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let header = signature.map_or(String::new(), |s| format!("Stripe-Signature: {s}\r\n"));
    let head = format!(
        "POST /webhooks/stripe HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{header}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(test.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_owned());
    (status, body)
}

/// The server's database, as only a test opens it (to write rows other services would).
pub async fn database(test: &TestServer) -> spot_db::Database {
    spot_db::Database::connect(&test.database_url)
        .await
        .expect("the database opens")
}

pub async fn execute(db: &spot_db::Database, sql: &str) {
    db.connection()
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql:.200}"));
}

/// Puts the owner's tenant on the savings share as if it had chosen it at `since` (its
/// subscription began then too); the tenant's id.
pub async fn on_savings_share_since(test: &TestServer, owner: &str, since: i64) -> String {
    use spot_proto::billing::v1 as pb;
    let tenant_id = spot_proto::billing::v1::billing_service_client::BillingServiceClient::new(
        test.channel.clone(),
    )
    .change_plan(spot_testkit::authed(
        pb::ChangePlanRequest {
            plan_id: "savings_share".into(),
        },
        owner,
    ))
    .await
    .unwrap()
    .into_inner()
    .subscription
    .unwrap()
    .tenant_id;
    let db = database(test).await;
    for sql in [
        format!("DELETE FROM billing_terms WHERE tenant_id = '{tenant_id}' AND plan_id = 'free'"),
        format!(
            "UPDATE billing_terms SET effective_from = {since} WHERE tenant_id = '{tenant_id}'"
        ),
        format!(
            "UPDATE billing_subscriptions SET created_at = {since} WHERE tenant_id = '{tenant_id}'"
        ),
    ] {
        execute(&db, &sql).await;
    }
    tenant_id
}

/// One pool in a cost sample's `pools` JSON.
pub struct SampledPool {
    pub instance_type: &'static str,
    pub zone: &'static str,
    pub capacity_type: &'static str,
    pub nodes: i64,
    pub price_micros: i64,
    pub on_demand_micros: i64,
}

/// Cost samples of one cluster, every `every_ms` in [from, until), the pools given by `at(t)`.
pub async fn insert_samples(
    test: &TestServer,
    tenant_id: &str,
    cluster_id: &str,
    (from, until, every_ms): (i64, i64, i64),
    at: impl Fn(i64) -> Vec<SampledPool>,
) {
    let mut rows = Vec::new();
    let mut t = from;
    while t < until {
        let pools = at(t);
        if !pools.is_empty() {
            let json: Vec<serde_json::Value> = pools
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "instance_type": p.instance_type,
                        "zone": p.zone,
                        "capacity_type": p.capacity_type,
                        "nodes": p.nodes,
                        "price_micros_per_hour": p.price_micros,
                        "on_demand_micros_per_hour": p.on_demand_micros,
                        "price_source": if p.capacity_type == "spot" { "live_spot" } else { "on_demand_list" },
                    })
                })
                .collect();
            let cost: f64 = pools
                .iter()
                .map(|p| (p.nodes * p.price_micros) as f64 / 1e6)
                .sum();
            let on_demand: f64 = pools
                .iter()
                .map(|p| (p.nodes * p.on_demand_micros) as f64 / 1e6)
                .sum();
            let nodes: i64 = pools.iter().map(|p| p.nodes).sum();
            rows.push(format!(
                "('{}', '{tenant_id}', '{cluster_id}', {t}, {cost}, {on_demand}, {nodes}, 0, 0, 0, 0, 0, 0, '{}')",
                uuid::Uuid::new_v4().simple(),
                serde_json::Value::Array(json)
            ));
        }
        t += every_ms;
    }
    let db = database(test).await;
    for chunk in rows.chunks(500) {
        execute(
            &db,
            &format!(
                "INSERT INTO cost_samples (id, tenant_id, cluster_id, at, cost_usd_per_hour, on_demand_usd_per_hour, nodes, spot_nodes, cpu_allocatable_millis, cpu_requested_millis, memory_allocatable_mib, memory_requested_mib, interruptions, pools) VALUES {}",
                chunk.join(", ")
            ),
        )
        .await;
    }
}

/// A request the fake Stripe received.
#[derive(Debug, Clone)]
pub struct StripeCall {
    pub path: String,
    pub authorization: String,
    pub idempotency_key: String,
    /// The form, decoded.
    pub form: std::collections::BTreeMap<String, String>,
}

/// Stripe's API as a local HTTP peer: records every request and answers with a new id, or with
/// a 500 while `failures` lasts.
pub struct FakeStripe {
    pub url: String,
    pub calls: std::sync::Arc<std::sync::Mutex<Vec<StripeCall>>>,
    pub failures: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn form_decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let failures = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (recorded, failing) = (calls.clone(), failures.clone());
        tokio::spawn(async move {
            let mut next_id = 0u32;
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                let (head, body) = loop {
                    let n = stream.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        break (String::new(), String::new());
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break (head.to_owned(), body[..length].to_owned());
                        }
                    }
                };
                if head.is_empty() {
                    continue;
                }
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                        .unwrap_or_default()
                };
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let form = body
                    .split('&')
                    .filter(|pair| !pair.is_empty())
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(k, v)| (form_decode(k), form_decode(v)))
                    .collect();
                recorded.lock().unwrap().push(StripeCall {
                    path: path.clone(),
                    authorization: header("authorization"),
                    idempotency_key: header("idempotency-key"),
                    form,
                });
                let failing_now = failing
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let (status, answer) = if failing_now {
                    (
                        "500 Internal Server Error",
                        r#"{"error":{"message":"try again"}}"#.to_owned(),
                    )
                } else {
                    next_id += 1;
                    let prefix = if path.starts_with("/v1/customers") {
                        "cus"
                    } else {
                        "in"
                    };
                    let id = if path.ends_with("/finalize") {
                        path.trim_start_matches("/v1/invoices/")
                            .trim_end_matches("/finalize")
                            .to_owned()
                    } else {
                        format!("{prefix}_fake{next_id}")
                    };
                    ("200 OK", format!(r#"{{"id":"{id}"}}"#))
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        FakeStripe {
            url,
            calls,
            failures,
        }
    }

    pub fn calls(&self) -> Vec<StripeCall> {
        self.calls.lock().unwrap().clone()
    }
}
