use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::Bus;

/// Runs `job` on exactly one replica at a time: whoever holds the lease `name` runs it; the others
/// wait and take over within about `ttl` when the holder stops or loses its connection.
/// The job is given a token that is cancelled when the lease is lost, and should stop promptly then.
/// Returns when `shutdown` resolves.
pub async fn run_singleton<B, F, Fut>(
    bus: &B,
    name: &str,
    ttl: Duration,
    shutdown: impl Future<Output = ()>,
    mut job: F,
) where
    B: Bus + ?Sized,
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    let retry = ttl / 3;
    loop {
        let lease = tokio::select! {
            () = &mut shutdown => return,
            lease = bus.try_acquire(name, ttl) => lease,
        };
        let lease = match lease {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(retry) => continue,
                }
            }
            Err(error) => {
                tracing::warn!(job = name, %error, "cannot reach the bus to take the job's lease");
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(retry) => continue,
                }
            }
        };
        tracing::info!(job = name, "this replica now runs the job");
        let lost = CancellationToken::new();
        let run = job(lost.clone());
        tokio::pin!(run);
        let mut renew_every = tokio::time::interval(retry);
        renew_every.tick().await;
        let stop = loop {
            tokio::select! {
                () = &mut shutdown => break true,
                () = &mut run => break false,
                _ = renew_every.tick() => {
                    if !matches!(bus.renew(&lease, ttl).await, Ok(true)) {
                        tracing::warn!(job = name, "lost the job's lease; stopping it here");
                        lost.cancel();
                        break false;
                    }
                }
            }
        };
        if !lost.is_cancelled() {
            lost.cancel();
            let _ = bus.release(&lease).await;
        }
        if stop {
            return;
        }
    }
}
