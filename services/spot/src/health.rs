use std::time::Duration;

use spot_config::ServiceName;
use spot_kit::ServiceContext;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often the database and the bus are checked for readiness.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Health under three kinds of name: "" (the whole process), each gRPC service
/// (`spot.cluster.v1.ClusterService`) and each platform service (`cluster`). All are SERVING while
/// the database and the bus answer, NOT_SERVING when either does not, and NOT_SERVING from the
/// moment shutdown begins so load balancers stop sending new calls.
pub async fn start_health_reporting(
    reporter: HealthReporter,
    ctx: &ServiceContext,
    grpc_names: &[&'static str],
    services: &[ServiceName],
) {
    let names: Vec<String> = std::iter::once(String::new())
        .chain(grpc_names.iter().map(|name| (*name).to_owned()))
        .chain(services.iter().map(|service| service.as_str().to_owned()))
        .collect();
    set_all(&reporter, &names, ServingStatus::Serving).await;

    let ctx = ctx.clone();
    tokio::spawn(async move {
        let mut serving = true;
        let mut every = tokio::time::interval(CHECK_EVERY);
        loop {
            tokio::select! {
                () = ctx.shutdown.cancelled() => {
                    set_all(&reporter, &names, ServingStatus::NotServing).await;
                    return;
                }
                _ = every.tick() => {}
            }
            let ready = ctx.db.ping().await && ctx.bus.ping().await;
            if ready != serving {
                serving = ready;
                if ready {
                    tracing::info!("database and bus answer again; serving");
                } else {
                    tracing::warn!("database or bus not answering; reporting NOT_SERVING");
                }
                let status = if ready {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                set_all(&reporter, &names, status).await;
            }
        }
    });
}

async fn set_all(reporter: &HealthReporter, names: &[String], status: ServingStatus) {
    for name in names {
        reporter.set_service_status(name, status).await;
    }
}
