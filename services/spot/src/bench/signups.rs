//! `spot bench signups`: a burst of concurrent sign-ups against a `spot serve` child, with the
//! child's memory sampled throughout. Each sign-up costs a memory-hard password hash; the
//! hashing semaphore (`password_hash_memory_mib`) is what keeps a burst from multiplying that
//! memory by the number of callers. The report states the ceiling the peak must stay under:
//! the memory before the burst plus the hashing budget plus a fixed margin for request buffers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use spot_proto::auth::v1::SignUpRequest;
use spot_proto::auth::v1::auth_service_client::AuthServiceClient;
use tonic::transport::Endpoint;

use super::agents::start_child;

/// Room above the hashing budget for everything else a request holds (buffers, rows, tasks).
const MARGIN_MIB: u64 = 64;

pub struct Settings {
    pub signups: usize,
    pub hash_memory_mib: u64,
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub async fn run(settings: Settings) -> Result<serde_json::Value, String> {
    let child = start_child(&[
        (
            "SPOT_ACCOUNT_ACTIONS_PER_HOUR",
            (settings.signups * 2).to_string(),
        ),
        (
            "SPOT_PASSWORD_HASH_MEMORY_MIB",
            settings.hash_memory_mib.to_string(),
        ),
    ])
    .await?;
    let pid = child.child.id().ok_or("the child has no process id")?;
    let channel = Endpoint::from_shared(child.url.clone())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", child.url))?;
    let before = rss_bytes(pid).ok_or("cannot read the child's memory")?;

    let peak = Arc::new(AtomicU64::new(before));
    let sampling = tokio_util::sync::CancellationToken::new();
    let sampler = {
        let peak = peak.clone();
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(5));
            while !sampling.is_cancelled() {
                every.tick().await;
                if let Some(rss) = rss_bytes(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
            }
        })
    };

    let started = Instant::now();
    let burst = (0..settings.signups).map(|index| {
        let mut auth = AuthServiceClient::new(channel.clone());
        async move {
            auth.sign_up(SignUpRequest {
                tenant_name: format!("bench {index}"),
                email: format!("bench-{}@example.com", uuid::Uuid::new_v4().simple()),
                password: format!("Bench-{}-pass!", uuid::Uuid::new_v4().simple()),
            })
            .await
        }
    });
    let results = futures::future::join_all(burst).await;
    let seconds = started.elapsed().as_secs_f64();
    sampling.cancel();
    let _ = sampler.await;
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|s| s.message().to_owned()))
        .collect();
    let peak = peak.load(Ordering::Relaxed);
    let ceiling = before + (settings.hash_memory_mib + MARGIN_MIB) * 1024 * 1024;
    let mib = |bytes: u64| (bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0;
    Ok(serde_json::json!({
        "bench": "signups",
        "signups": settings.signups,
        "succeeded": settings.signups - failed.len(),
        "first_error": failed.first(),
        "seconds": (seconds * 100.0).round() / 100.0,
        "password_hash_memory_mib": settings.hash_memory_mib,
        "rss_before_mib": mib(before),
        "peak_rss_mib": mib(peak),
        "ceiling_mib": mib(ceiling),
        "under_ceiling": peak <= ceiling,
    }))
}
