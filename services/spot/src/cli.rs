use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use spot_config::{Config, ConfigError, ConfigLayer};

/// Spot Optimizer: runs Kubernetes clusters on AWS spot capacity, safely and cheaply.
#[derive(Debug, Parser)]
#[command(name = "spot", version)]
pub struct Cli {
    /// A TOML config file (also SPOT_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (also SPOT_LISTEN).
    #[arg(long, global = true)]
    pub listen: Option<String>,
    /// Directory for the embedded database and local state (also SPOT_DATA_DIR).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Services to run here, e.g. `cluster,risk`, or `all` (also SPOT_SERVICES).
    #[arg(long, global = true)]
    pub services: Option<String>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long, global = true)]
    pub dump_config: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the services on one port: native gRPC, grpc-web, health and reflection.
    Serve,
    /// The platform with three simulated clusters whose agents connect over the real stream;
    /// the login is printed at start. Starts fresh each time (its own data dir).
    Demo(crate::demo::DemoArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a consistent copy of the embedded SQLite database to FILE (a new file), while the
    /// platform runs. Keep `master.key` from the data dir with it: it opens the sealed secrets.
    Backup { file: PathBuf },
    /// Replace the embedded SQLite database with the backup in FILE, once every spot process on
    /// it has stopped; the replaced database is kept as `spot.db.before-restore`.
    Restore { file: PathBuf },
    /// Benchmarks anyone can run; each prints ONE JSON line.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run the engine on a problem file (the engine's problem JSON, or a `bench optimizer --dump`)
    /// and print ONE JSON line: the packing, its cost and bound, and whether it is valid.
    Solve {
        #[arg(long)]
        input: PathBuf,
        /// Also write the problem, the full solution and any violations here.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Solve a scheduling benchmark with the optimizer engine.
    Optimizer {
        /// `karpenter` (Karpenter's scheduling benchmark shape) or `catalog` (the real catalog).
        #[arg(long)]
        scenario: String,
        #[arg(long, default_value_t = 10_000)]
        pods: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the input and the result as one JSON object, to check independently.
        #[arg(long)]
        dump: Option<PathBuf>,
    },
    /// The autopilot over simulated hours: the demo's clusters with workload churn and
    /// kube-scheduler-like binding; node moves, pending pod-minutes, plans by kind, cost against
    /// the cheapest packing.
    Autopilot {
        #[arg(long, default_value_t = 24.0)]
        hours: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How long a launched node takes to join the cluster Ready, in simulated seconds.
        #[arg(long, default_value_t = 60.0)]
        launch_seconds: f64,
        /// Each cluster's workloads change (scale up, scale down or roll) once every this many
        /// simulated minutes on average; 0 for a steady workload.
        #[arg(long, default_value_t = 10.0)]
        churn_minutes: f64,
        /// Each spot node gets AWS's two-minute interruption notice once every this many
        /// simulated hours on average; 0 for none.
        #[arg(long, default_value_t = 24.0)]
        interrupt_every_hours: f64,
        /// `after` (the autopilot's rules) or `before` (the rules they replaced), to compare.
        #[arg(long, default_value = "after")]
        rules: String,
    },
    /// Replay a seeded interruption history: the risk model's Brier score and AUC against the
    /// advisor-bucket prior's.
    Risk {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 300)]
        pools: usize,
        #[arg(long, default_value_t = 60)]
        days: u32,
        /// A model version (default: the live model).
        #[arg(long)]
        model: Option<String>,
    },
    /// Open many agent streams, send heartbeats and snapshots, send actions and time them.
    Agents {
        #[arg(long, default_value_t = 1_000)]
        streams: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// A running server's URL; without it, a `spot serve` child process is started.
        #[arg(long)]
        target: Option<String>,
        /// With --target: the server's process id, to measure its memory.
        #[arg(long)]
        pid: Option<u32>,
        /// Streams per HTTP/2 connection (one process cannot hold 10,000 sockets here).
        #[arg(long, default_value_t = 100)]
        streams_per_connection: usize,
        /// Actions sent per second during the run.
        #[arg(long, default_value_t = 50)]
        actions_per_second: u32,
        /// Streams opened per second (agents reconnecting after a restart spread themselves
        /// over their jittered backoff: 10,000 over 30 s is about 330 per second).
        #[arg(long, default_value_t = 1_000)]
        connect_rate: u32,
    },
    /// Spot interruption notices at once, one per cluster, against a `spot serve` child: each
    /// timed from the notice on the agent's stream to its replacement's launch and to the drain
    /// of its node arriving there.
    Interruptions {
        #[arg(long, default_value_t = 300)]
        notices: usize,
        /// The child's database (`postgres://...`); its embedded SQLite without it.
        #[arg(long)]
        database_url: Option<String>,
        /// The child's bus (`redis://...`); the in-process bus without it.
        #[arg(long)]
        redis_url: Option<String>,
    },
    /// A burst of concurrent sign-ups against a `spot serve` child: the child's peak memory
    /// against the stated ceiling (memory before + the hashing budget + 64 MiB).
    Signups {
        #[arg(long, default_value_t = 200)]
        signups: usize,
        /// The child's `password_hash_memory_mib` (its default).
        #[arg(long, default_value_t = 256)]
        hash_memory_mib: u64,
    },
}

impl Cli {
    /// Layers defaults, the file, `env` and these flags into one validated config.
    pub fn load_config(&self, env: BTreeMap<String, String>) -> Result<Config, ConfigError> {
        Config::load(self.config.as_deref(), &env, self.flags())
    }

    /// The settings given as flags, the top layer of the config.
    pub fn flags(&self) -> ConfigLayer {
        ConfigLayer {
            listen: self.listen.clone(),
            data_dir: self.data_dir.clone(),
            services: self.services.clone(),
            ..Default::default()
        }
    }
}
