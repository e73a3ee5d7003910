//! `spot demo`: the whole platform embedded (SQLite, in-process bus, the simulated cloud) with
//! three simulated clusters whose agents connect over the real agent stream. The clusters start
//! on on-demand capacity; the default policies let the optimizer move them to spot, the simulated
//! cloud interrupts spot instances (faster than real life), and the platform handles it.

mod cluster;
mod fleet;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use spot_agent::session::{Agent, AgentSettings};
use spot_cloud::{
    CLUSTER_ID_TAG, CloudProvider, LaunchRequest, Pool, SimulatedCloud, SimulationSettings,
};
use spot_config::{Config, ConfigLayer};
use spot_proto::agent::v1::{InterruptionKind, InterruptionNotice};
use spot_proto::auth::v1::auth_service_client::AuthServiceClient;
use spot_proto::auth::v1::{SignUpRequest, VerifyEmailRequest};
use spot_proto::billing::v1::ChangePlanRequest;
use spot_proto::billing::v1::billing_service_client::BillingServiceClient;
use spot_proto::cluster::v1::RegisterClusterRequest;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

const DEMO_EMAIL: &str = "demo@spot.local";

use crate::StartError;
use cluster::SimCluster;
pub(crate) use fleet::{ClusterShape, FLEET};

/// Marks a folder `spot demo` made, so a restart may wipe it and never wipes anything else.
const MARKER: &str = ".spot-demo";
/// Simulated seconds per real second: a spot notice's 120 s last 24 real seconds.
const SIMULATED_SECONDS_PER_TICK: i64 = 5;
/// Spot interruptions come this many times faster than the advisor's rates, so a demo of a few
/// minutes sees some.
const INTERRUPTION_SPEEDUP: f64 = 1_500.0;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// The password of the demo logins (demo@spot.local and admin@spot.local); random if unset.
    #[arg(long)]
    pub password: Option<String>,
    /// The simulated cloud's seed (the same seed gives the same interruptions).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The simulated cloud never runs short of capacity (by default a pool now and then does,
    /// as AWS's do). For the browser tests, whose flows must not depend on that chance.
    #[arg(long)]
    pub no_capacity_shortages: bool,
}

struct Running {
    sim: Arc<SimCluster>,
    notices: mpsc::Sender<InterruptionNotice>,
}

/// A running demo: the server, its URL and the demo's password.
pub struct Demo {
    pub server: crate::RunningServer,
    pub url: String,
    pub password: String,
    stop: CancellationToken,
}

impl Demo {
    /// Stops the simulated world and the server.
    pub async fn stop(self) -> Result<(), StartError> {
        self.stop.cancel();
        self.server.stop().await
    }
}

/// Runs the demo until `signal` resolves.
pub async fn run(
    flags: ConfigLayer,
    env: BTreeMap<String, String>,
    config_file: Option<&Path>,
    args: DemoArgs,
    signal: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let log = Config::load(config_file, &env, flags.clone())?.log;
    let _telemetry = spot_telemetry::init(&log, "spot-demo")?;
    let demo = start(flags, env, config_file, args).await?;
    signal.await;
    tracing::info!("shutting down the demo");
    demo.stop().await
}

/// Starts the platform, the simulated world and the three clusters; prints the logins.
pub async fn start(
    flags: ConfigLayer,
    env: BTreeMap<String, String>,
    config_file: Option<&Path>,
    args: DemoArgs,
) -> Result<Demo, StartError> {
    let data_dir = flags
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("spot-data/demo"));
    fresh_demo_dir(&data_dir)?;
    let password = args.password.clone().unwrap_or_else(random_password);
    let web_dir = flags
        .web_dir
        .clone()
        .or_else(|| Some(PathBuf::from("web/dist")).filter(|d| d.join("index.html").is_file()));
    let flags = ConfigLayer {
        listen: flags.listen.clone().or(Some("127.0.0.1:8080".to_owned())),
        data_dir: Some(data_dir.clone()),
        admin_email: Some("admin@spot.local".to_owned()),
        admin_password: Some(password.clone()),
        web_dir: web_dir.clone(),
        settle_seconds: Some(5),
        lab_interval_seconds: Some(15),
        price_sample_seconds: Some(10),
        ..flags
    };
    let config = Config::load(config_file, &env, flags)?;

    let world = Arc::new(SimulatedCloud::new(SimulationSettings {
        seed: args.seed,
        speedup: INTERRUPTION_SPEEDUP,
        shortage_probability: if args.no_capacity_shortages {
            0.0
        } else {
            SimulationSettings::default().shortage_probability
        },
        ..SimulationSettings::default()
    }));
    let server = crate::start_in(config, world.clone()).await?;
    let url = local_url(server.local_addr);
    let stop = CancellationToken::new();
    let clusters = match set_up(&url, &password, &server.mailer, &world, &stop).await {
        Ok(clusters) => clusters,
        Err(error) => {
            stop.cancel();
            server.stop().await?;
            return Err(StartError::Serve(format!("demo set-up failed: {error}")));
        }
    };
    print_banner(&url, &password, web_dir.as_deref(), &clusters, &data_dir);
    tokio::spawn(run_world(world, clusters, stop.clone()));
    Ok(Demo {
        server,
        url,
        password,
        stop,
    })
}

/// The demo starts from nothing each time: the simulated cloud lives in memory, so yesterday's
/// database would describe machines that no longer exist.
fn fresh_demo_dir(dir: &Path) -> Result<(), StartError> {
    let refuse = |why: String| StartError::Config(spot_config::ConfigError::new("data_dir", why));
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| refuse(format!("{} cannot be read: {e}", dir.display())))?
            .next()
            .is_none();
        if !empty && !dir.join(MARKER).exists() {
            return Err(refuse(format!(
                "{} holds data `spot demo` did not make; give the demo another --data-dir",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir)
            .map_err(|e| refuse(format!("{} cannot be cleared: {e}", dir.display())))?;
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| refuse(format!("{} cannot be created: {e}", dir.display())))?;
    std::fs::write(
        dir.join(MARKER),
        "made by spot demo; cleared at its next start\n",
    )
    .map_err(|e| refuse(format!("{} is not writable: {e}", dir.display())))
}

fn random_password() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let body: String = (0..16)
        .map(|_| {
            let chars = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
            chars[rng.random_range(0..chars.len())] as char
        })
        .collect();
    format!("{body}-Demo7")
}

fn local_url(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    format!("http://{host}:{}", addr.port())
}

/// Signs up the demo tenant, registers the clusters, starts their machines and agents.
async fn set_up(
    url: &str,
    password: &str,
    mailer: &spot_kit::mail::Mailer,
    world: &Arc<SimulatedCloud>,
    stop: &CancellationToken,
) -> Result<Vec<Running>, String> {
    let channel = Channel::from_shared(url.to_owned())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("cannot reach the server at {url}: {e}"))?;
    // The demo user is verified as its owner would be: with the token from the mail the
    // server logs.
    let mut mail = mailer.watch();
    AuthServiceClient::new(channel.clone())
        .sign_up(SignUpRequest {
            tenant_name: "Demo Co".to_owned(),
            email: DEMO_EMAIL.to_owned(),
            password: password.to_owned(),
        })
        .await
        .map_err(|e| format!("sign-up: {}", e.message()))?;
    let token = loop {
        let sent = tokio::time::timeout(std::time::Duration::from_secs(10), mail.recv())
            .await
            .map_err(|_| "no verification mail for the demo user")?
            .map_err(|e| format!("verification mail: {e}"))?;
        if sent.to == DEMO_EMAIL {
            break sent
                .token()
                .map(str::to_owned)
                .ok_or("no token in the mail")?;
        }
    };
    let verified = AuthServiceClient::new(channel.clone())
        .verify_email(VerifyEmailRequest { token })
        .await
        .map_err(|e| format!("verify email: {}", e.message()))?
        .into_inner();
    let token = verified
        .tokens
        .map(|t| t.access_token)
        .ok_or("verification gave no tokens")?;
    // The demo tenant pays a share of what it saves: its invoice preview runs on the billing
    // page as the clusters move to spot.
    let mut request = tonic::Request::new(ChangePlanRequest {
        plan_id: "savings_share".to_owned(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .map_err(|_| "token is not a header value")?,
    );
    BillingServiceClient::new(channel.clone())
        .change_plan(request)
        .await
        .map_err(|e| format!("choosing the savings-share plan: {}", e.message()))?;
    let mut clusters = Vec::new();
    for shape in FLEET {
        clusters.push(start_cluster(&channel, &token, url, shape, world, stop).await?);
    }
    Ok(clusters)
}

async fn start_cluster(
    channel: &Channel,
    token: &str,
    url: &str,
    shape: &ClusterShape,
    world: &Arc<SimulatedCloud>,
    stop: &CancellationToken,
) -> Result<Running, String> {
    let mut request = tonic::Request::new(RegisterClusterRequest {
        name: shape.name.to_owned(),
        region: shape.region.to_owned(),
        aws_account_id: String::new(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .map_err(|_| "token is not a header value")?,
    );
    let registered = ClusterServiceClient::new(channel.clone())
        .register_cluster(request)
        .await
        .map_err(|e| format!("registering {}: {}", shape.name, e.message()))?
        .into_inner();
    let cluster_id = registered.cluster.map(|c| c.id).ok_or("no cluster")?;
    let tags = BTreeMap::from([
        (CLUSTER_ID_TAG.to_owned(), cluster_id.clone()),
        (
            format!("kubernetes.io/cluster/{}", shape.name),
            "owned".to_owned(),
        ),
        ("eks:cluster-name".to_owned(), shape.name.to_owned()),
    ]);
    for (zone, instance_type, count) in shape.nodes {
        world
            .launch(LaunchRequest {
                region: shape.region.to_owned(),
                pools: vec![Pool {
                    region: shape.region.to_owned(),
                    zone: (*zone).to_owned(),
                    instance_type: (*instance_type).to_owned(),
                }],
                capacity_type: spot_cloud::CapacityType::OnDemand,
                count: *count,
                tags: tags.clone(),
                spec: None,
                client_token: None,
            })
            .await
            .map_err(|e| format!("launching {}'s nodes: {e}", shape.name))?;
    }
    let sim = SimCluster::new(shape.name, shape.region, &cluster_id, world.clone());
    sim.sync_with_cloud().await;
    sim.backdate_nodes(30);
    sim.add_pods(shape.pods());
    let (notices, interruptions) = mpsc::channel(64);
    let mut settings = AgentSettings::new(url, &registered.agent_key);
    settings.kubernetes_version = "v1.32.0 (simulated)".to_owned();
    settings.max_backoff = Duration::from_secs(2);
    tokio::spawn(Agent::new(settings, sim.clone(), sim.clone()).run(interruptions, stop.clone()));
    Ok(Running { sim, notices })
}

/// Moves the simulated world: its clock, spot interruptions (sent to the agent of the cluster
/// that runs the instance, as its IMDS watcher would), and nodes joining and leaving.
async fn run_world(world: Arc<SimulatedCloud>, clusters: Vec<Running>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let notice_millis = spot_cloud::NOTICE_SECONDS * 1_000 / SIMULATED_SECONDS_PER_TICK;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        for interruption in world.advance(SIMULATED_SECONDS_PER_TICK) {
            let Some((running, node)) = clusters
                .iter()
                .find_map(|c| Some((c, c.sim.node_of_instance(&interruption.instance_id)?)))
            else {
                continue;
            };
            tracing::info!(
                cluster = %running.sim.name,
                instance = %interruption.instance_id,
                pool = %interruption.pool.instance_type,
                "spot interruption notice"
            );
            let notice = InterruptionNotice {
                event_id: format!("demo-{}", uuid::Uuid::new_v4()),
                kind: InterruptionKind::SpotInterruption.into(),
                instance_id: interruption.instance_id.clone(),
                node_name: node,
                pool: Some(spot_proto::common::v1::Pool {
                    region: interruption.pool.region.clone(),
                    zone: interruption.pool.zone.clone(),
                    instance_type: interruption.pool.instance_type.clone(),
                }),
                action_at: Some(spot_proto::time::timestamp(
                    chrono::Utc::now().timestamp_millis() + notice_millis,
                )),
            };
            let _ = running.notices.try_send(notice);
        }
        for running in &clusters {
            running.sim.sync_with_cloud().await;
        }
    }
}

fn print_banner(
    url: &str,
    password: &str,
    web_dir: Option<&Path>,
    clusters: &[Running],
    data_dir: &Path,
) {
    let web = match web_dir {
        Some(_) => format!("open {url} in a browser"),
        None => format!("the web app is not built (run `make web`); the API is on {url}"),
    };
    println!();
    println!("spot demo is running: {web}");
    println!("  log in:  demo@spot.local / {password}   (tenant \"Demo Co\")");
    println!("  admin:   admin@spot.local / {password}   (platform admin: safe mode, tenants)");
    for running in clusters {
        println!(
            "  cluster: {:<14} {:>2} on-demand nodes, agent connected over the real stream",
            running.sim.name,
            running.sim.node_count()
        );
    }
    println!(
        "  The optimizer moves the clusters to spot within a minute; spot interruptions arrive"
    );
    println!(
        "  Demo Co is on the savings-share plan: Billing shows its invoice for this month as it runs."
    );
    println!(
        "  about every minute or two and are handled. State: {} (cleared at the next start).",
        data_dir.display()
    );
    println!("  Ctrl-C stops it.");
    println!();
}
