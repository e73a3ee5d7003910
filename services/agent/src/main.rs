//! `spot-agent`: runs in the customer's cluster, holds one stream to the control plane, watches
//! nodes, pods and PDBs, runs cordon/drain/label/taint/delete actions, ranks pods for scale-downs,
//! and (as a DaemonSet on spot nodes, with --imds) forwards spot interruption and rebalance
//! notices.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use spot_agent::kube_executor::KubeExecutor;
use spot_agent::session::{Agent, AgentSettings};
use spot_agent::watch::ClusterView;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(name = "spot-agent", version)]
struct Args {
    /// The control plane's gRPC URL, e.g. https://spot.example.com.
    #[arg(long, env = "SPOT_AGENT_CONTROL_PLANE")]
    control_plane: String,
    /// This cluster's agent API key.
    #[arg(long, env = "SPOT_AGENT_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The Kubernetes API server URL; in a pod the service account is used instead.
    #[arg(long, env = "SPOT_AGENT_KUBE_URL")]
    kube_url: Option<String>,
    /// Watch this node's instance metadata (IMDSv2) for spot interruption notices.
    #[arg(long, env = "SPOT_AGENT_IMDS")]
    imds: bool,
    #[arg(
        long,
        env = "SPOT_AGENT_IMDS_URL",
        default_value = "http://169.254.169.254"
    )]
    imds_url: String,
    /// The node this agent runs on (the downward API's spec.nodeName).
    #[arg(long, env = "NODE_NAME", default_value = "")]
    node_name: String,
    /// Rank ReplicaSet pods for scale-downs (`controller.kubernetes.io/pod-deletion-cost`) so
    /// a scale-down empties the node consolidation would take first.
    #[arg(long, env = "SPOT_AGENT_POD_DELETION_COST", default_value_t = true, action = clap::ArgAction::Set)]
    pod_deletion_cost: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    // Several TLS backends are linked in; pick one for the whole process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("spot-agent: error: {error}");
            ExitCode::from(2)
        }
    }
}

async fn kube_client(url: Option<&str>) -> Result<kube::Client, String> {
    match url {
        Some(url) => {
            let url = url
                .parse()
                .map_err(|e| format!("invalid --kube-url `{url}`: {e}"))?;
            kube::Client::try_from(kube::Config::new(url)).map_err(|e| e.to_string())
        }
        None => kube::Client::try_default()
            .await
            .map_err(|e| format!("no Kubernetes configuration: {e}")),
    }
}

async fn run(args: Args) -> Result<(), String> {
    let client = kube_client(args.kube_url.as_deref()).await?;
    let version = client
        .apiserver_version()
        .await
        .map_err(|e| format!("cannot reach the Kubernetes API server: {e}"))?;
    let shutdown = CancellationToken::new();
    let view = ClusterView::start(client.clone(), shutdown.clone());
    view.ready().await;
    let (notices, interruptions) = tokio::sync::mpsc::channel(64);
    if args.imds {
        let config = spot_agent::imds::ImdsConfig {
            base_url: args.imds_url.clone(),
            ..Default::default()
        };
        spot_agent::imds::spawn(config, args.node_name.clone(), notices, shutdown.clone());
    } else {
        drop(notices);
    }
    let mut settings = AgentSettings::new(&args.control_plane, &args.api_key);
    settings.kubernetes_version = version.git_version;
    let agent = Agent::new(
        settings,
        Arc::new(KubeExecutor::new(client.clone())),
        Arc::new(view.clone()),
    );
    if args.pod_deletion_cost {
        tokio::spawn(spot_agent::scale_down_order::run(
            view,
            client,
            agent.dry_run(),
            shutdown.clone(),
        ));
    }
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    #[cfg(unix)]
    {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                term.recv().await;
                stop.cancel();
            }
        });
    }
    tracing::info!(control_plane = %args.control_plane, "spot-agent started");
    agent.run(interruptions, shutdown).await;
    Ok(())
}
