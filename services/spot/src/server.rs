use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use spot_bus::{InProcessBus, RedisBus, SharedBus};
use spot_cloud::{SimulatedCloud, SimulationSettings};
use spot_config::{Config, ServiceName, ensure_data_dir_writable};
use spot_db::Database;
use spot_kit::{ServiceClients, ServiceContext, ServiceRegistry};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use spot_access::{AccessLayer, AuditSink, ClientAddressLayer, InternalCredential, Verifier};

use crate::StartError;
use crate::health::start_health_reporting;

/// A started server. Dropping it does not stop it; call [`RunningServer::stop`].
pub struct RunningServer {
    pub local_addr: SocketAddr,
    /// Where `/metrics` is served (`admin_listen`), when it is.
    pub admin_addr: Option<SocketAddr>,
    pub shutdown: CancellationToken,
    /// The mail this process sends (the embedded default only logs it): the demo and tests read
    /// verification tokens from it.
    pub mailer: spot_kit::mail::Mailer,
    task: JoinHandle<Result<(), StartError>>,
}

impl RunningServer {
    /// Begins a graceful shutdown and waits for it to finish.
    pub async fn stop(self) -> Result<(), StartError> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server has stopped.
    pub async fn wait(self) -> Result<(), StartError> {
        self.task
            .await
            .map_err(|e| StartError::Serve(e.to_string()))?
    }
}

/// The name this process's spans carry (OpenTelemetry's `service.name`): `spot` when it runs
/// every service, else `spot-` and the services it runs (`spot-auth`, `spot-cluster-risk`), so
/// that a trace across processes shows which one each span came from.
fn trace_service_name(services: &[ServiceName]) -> String {
    if ServiceName::ALL.iter().all(|s| services.contains(s)) {
        return "spot".to_owned();
    }
    let names: Vec<&str> = services.iter().map(|s| s.as_str()).collect();
    format!("spot-{}", names.join("-"))
}

/// Runs until `signal` resolves, then shuts down gracefully. Installs telemetry first.
pub async fn run(config: Config, signal: impl Future<Output = ()>) -> Result<(), StartError> {
    let _telemetry = spot_telemetry::init(&config.log, &trace_service_name(&config.services))?;
    tokio::pin!(signal);
    let server = tokio::select! {
        server = start(config) => server?,
        () = &mut signal => {
            tracing::info!("stopped during start-up");
            return Ok(());
        }
    };
    tracing::info!(addr = %server.local_addr, "spot is serving");
    signal.await;
    tracing::info!("shutting down: finishing in-flight calls");
    server.stop().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Binds, opens the database (running migrations), connects the bus and starts serving.
/// `config.listen` may use port 0; the bound address is in [`RunningServer::local_addr`].
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    let world = Arc::new(SimulatedCloud::new(SimulationSettings::default()));
    start_in(config, world).await
}

/// [`start`] with the simulated cloud given, so its owner (`spot demo`, a test) can watch and
/// move its clock.
pub async fn start_in(
    mut config: Config,
    world: Arc<SimulatedCloud>,
) -> Result<RunningServer, StartError> {
    ensure_data_dir_writable(&config.data_dir)?;
    let master_key = spot_kit::sealing::master_key(&config).map_err(StartError::Config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    config.listen = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let db =
        Database::open_with_pool(&config.database_url, config.database_max_connections).await?;
    let bus: SharedBus = match &config.redis_url {
        Some(url) => Arc::new(RedisBus::connect(url, &config.bus_namespace).await?),
        None => Arc::new(InProcessBus::new()),
    };
    let internal = internal_credential(&config)?;
    let clients = ServiceClients::new(&config, internal.clone())?;
    let auth_channel = clients
        .raw_channel(ServiceName::Auth)
        .ok_or_else(|| StartError::Serve("no channel to the auth service".into()))?;
    let verifier = Verifier::new(internal.clone(), auth_channel.clone())
        .with_revocations(spot_access::Revocations::new(bus.clone()));
    let shutdown = CancellationToken::new();
    keep_verifier_current(&bus, verifier.clone(), shutdown.clone()).await?;
    let client_address = ClientAddressLayer::new(config.trusted_proxies.clone(), internal.clone());
    let access = AccessLayer::new(verifier, AuditSink::start(internal, auth_channel))
        .with_tenant_limits(spot_access::TenantLimits {
            requests: config.limits.concurrent_requests_per_tenant,
            streams: config.limits.concurrent_streams_per_tenant,
        });
    let ctx = ServiceContext {
        config: Arc::new(config),
        db,
        bus,
        clients,
        shutdown: shutdown.clone(),
        master_key,
        mailer: spot_kit::mail::Mailer::log(),
    };
    let mailer = ctx.mailer.clone();

    let mut registry = ServiceRegistry::new();
    for service in &ctx.config.services {
        let own = ctx.for_service(*service);
        match service {
            ServiceName::Auth => spot_auth::register(&own, &mut registry)
                .await
                .map_err(|e| StartError::Service(format!("auth: {e}")))?,
            ServiceName::Cluster => spot_cluster::register(&own, &mut registry, world.clone()),
            ServiceName::Policy => spot_policy::register(&own, &mut registry),
            ServiceName::Billing => spot_billing::register(&own, &mut registry),
            ServiceName::Risk => spot_risk::register(&own, &mut registry),
            ServiceName::Optimizer => spot_optimizer::register(&own, &mut registry),
        }
    }
    let (routes, grpc_names) = registry.into_parts();

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    start_health_reporting(health_reporter, &ctx, &grpc_names, &ctx.config.services).await;
    let routes = with_reflection(routes.routes().add_service(health_service), &grpc_names)?;

    let web = match &ctx.config.web_dir {
        Some(dir) => Some(
            spot_edge::WebApp::new(dir)
                .map_err(|e| StartError::Config(spot_config::ConfigError::new("web_dir", e)))?,
        ),
        None => None,
    };
    let metrics = spot_edge::Metrics::new();
    let admin_addr = match ctx.config.admin_listen {
        Some(addr) => {
            let admin = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            let bound = admin
                .local_addr()
                .map_err(|source| StartError::Bind { addr, source })?;
            tokio::spawn(spot_edge::serve_admin(
                admin,
                metrics.clone(),
                readiness(&ctx),
                shutdown.clone().cancelled_owned(),
            ));
            Some(bound)
        }
        None => None,
    };
    let edge = spot_edge::EdgeLayer::new(web, metrics, readiness(&ctx), |method| {
        spot_access::rules::rule_for(method).is_some()
    });
    let server = Server::builder()
        .accept_http1(true)
        .layer(edge)
        .layer(spot_telemetry::TraceContextLayer)
        .layer(tower::util::option_layer(spot_edge::cors_layer(
            &ctx.config.cors_origins,
        )))
        // Outside the grpc-web translation: it rewrites grpc-web frames (see its module).
        .layer(spot_edge::SessionCookieLayer)
        .layer(spot_edge::GrpcWebLayer::new())
        // Before the forwarding, so a call forwarded to another process carries the address signed.
        .layer(client_address)
        .layer(upstreams(&ctx))
        .layer(access)
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            TcpListenerStream::new(listener),
            shutdown.clone().cancelled_owned(),
        );

    let grace = Duration::from_secs(ctx.config.shutdown_grace_seconds);
    let local_addr = ctx.config.listen;
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        tokio::select! {
            served = server => served.map_err(|e| StartError::Serve(e.to_string())),
            () = async { token.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "grace period over; closing the connections still open");
                Ok(())
            }
        }
    });
    Ok(RunningServer {
        local_addr,
        admin_addr,
        shutdown,
        mailer,
        task,
    })
}

/// `/readyz`: the database and the bus answer and shutdown has not begun.
fn readiness(ctx: &ServiceContext) -> spot_edge::Readiness {
    let ctx = ctx.clone();
    Arc::new(move || {
        let ctx = ctx.clone();
        Box::pin(async move {
            !ctx.shutdown.is_cancelled() && ctx.db.ping().await && ctx.bus.ping().await
        })
    })
}

/// In the distributed mode, calls for the services other processes run are forwarded to them.
fn upstreams(ctx: &ServiceContext) -> spot_edge::Upstreams {
    let channels = ServiceName::ALL
        .into_iter()
        .filter(|service| !ctx.config.runs(*service))
        .filter_map(|service| Some((service, ctx.clients.raw_channel(service)?)))
        .collect();
    spot_edge::Upstreams::new(channels)
}

/// Revocations and key rotations reach every replica's verifier through the bus, so a revoked
/// key stops at once, open streams of a revoked credential end, and a new signing key is
/// fetched on first sight.
async fn keep_verifier_current(
    bus: &SharedBus,
    verifier: Verifier,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    enum Heard {
        Revoked(spot_access::Revocable),
        Rotated,
    }
    let bus = bus.as_ref();
    let keys = spot_access::API_KEY_REVOKED_TOPIC
        .subscribe(bus)
        .await?
        .map(|revoked| Heard::Revoked(spot_access::Revocable::ApiKey(revoked.key_id)));
    let rotated = spot_access::SIGNING_KEY_ROTATED_TOPIC
        .subscribe(bus)
        .await?
        .map(|_| Heard::Rotated);
    let sessions = spot_access::SESSION_REVOKED_TOPIC
        .subscribe(bus)
        .await?
        .map(|revoked| Heard::Revoked(spot_access::Revocable::Session(revoked.session_id)));
    let mut events = keys.merge(rotated).merge(sessions);
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => return,
                message = events.next() => message,
            };
            let Some(heard) = message else { return };
            match heard {
                Heard::Revoked(revoked) => {
                    if let spot_access::Revocable::ApiKey(id) = &revoked {
                        verifier.evict_api_key(id);
                    }
                    if let Some(revocations) = verifier.revocations() {
                        revocations.announce(revoked);
                    }
                }
                Heard::Rotated => verifier.forget_jwks_fetch(),
            }
        }
    });
    Ok(())
}

/// The credential this process's services present to each other. Without a configured secret
/// (only allowed when this process runs every service) a random one is made per process.
fn internal_credential(config: &Config) -> Result<InternalCredential, StartError> {
    let secret = match &config.internal_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => rand::random::<[u8; 32]>().to_vec(),
    };
    let name = config
        .services
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("+");
    InternalCredential::new(&secret, name).map_err(|e| {
        StartError::Config(spot_config::ConfigError::new(
            "internal_secret",
            e.to_string(),
        ))
    })
}

/// Adds reflection (v1, and v1alpha for older grpcurl) listing only the services this process runs.
fn with_reflection(
    routes: tonic::service::Routes,
    grpc_names: &[&'static str],
) -> Result<tonic::service::Routes, StartError> {
    let builder = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(spot_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        for name in grpc_names.iter().chain(&[
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]) {
            builder = builder.with_service_name(*name);
        }
        builder
    };
    let failed = |e: tonic_reflection::server::Error| StartError::Serve(format!("reflection: {e}"));
    Ok(routes
        .add_service(builder().build_v1().map_err(failed)?)
        .add_service(builder().build_v1alpha().map_err(failed)?))
}

/// Applies pending migrations (the same ones `serve` applies at start) and lists what is applied.
pub async fn migrate(config: &Config) -> Result<(), StartError> {
    ensure_data_dir_writable(&config.data_dir)?;
    let db = Database::open(&config.database_url).await?;
    for migration in db.applied_migrations().await? {
        println!("applied {migration}");
    }
    db.close().await?;
    Ok(())
}

/// `spot backup FILE`: a consistent copy of the SQLite database, taken while it serves.
pub async fn back_up(config: &Config, file: &std::path::Path) -> Result<(), StartError> {
    let db = Database::connect(&config.database_url).await?;
    db.back_up_to(file).await?;
    db.close().await?;
    println!(
        "backed up {} to {}; keep {} with it",
        config.database_url,
        file.display(),
        config.data_dir.join("master.key").display()
    );
    Ok(())
}

/// `spot restore FILE`: the backup replaces the SQLite database (every spot process on it
/// stopped); the next start migrates it if it is older than this binary.
pub async fn restore(config: &Config, file: &std::path::Path) -> Result<(), StartError> {
    spot_db::restore_sqlite(&config.database_url, file).await?;
    println!(
        "restored {} from {}; the database it replaced is kept beside it as .before-restore",
        config.database_url,
        file.display()
    );
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed when this is called, not
/// when the future is first polled, so a signal during start-up is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let interrupt = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        if let Some(mut terminate) = terminate {
            tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        let _ = interrupt.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_process_names_its_spans_after_the_services_it_runs() {
        assert_eq!(trace_service_name(&ServiceName::ALL), "spot");
        assert_eq!(trace_service_name(&[ServiceName::Auth]), "spot-auth");
        assert_eq!(
            trace_service_name(&[ServiceName::Cluster, ServiceName::Risk]),
            "spot-cluster-risk"
        );
    }
}
