use std::time::Duration;

use crate::ServiceContext;

/// Runs `job` on exactly one replica at a time (a bus lease), until shutdown. The job gets a token
/// that is cancelled when the lease is lost, and should stop promptly then.
pub fn singleton<F, Fut>(ctx: &ServiceContext, name: &'static str, job: F)
where
    F: FnMut(spot_bus::CancellationToken) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let bus = ctx.bus.clone();
    // Another replica takes the job over within about this time after the holder stops.
    let lease = Duration::from_secs(ctx.config.limits.lease_seconds);
    let shutdown = ctx.shutdown.clone();
    tokio::spawn(async move {
        spot_bus::run_singleton(bus.as_ref(), name, lease, shutdown.cancelled_owned(), job).await;
    });
}
