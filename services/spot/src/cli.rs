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
    /// Apply pending database migrations and exit.
    Migrate,
}

impl Cli {
    /// Layers defaults, the file, `env` and these flags into one validated config.
    pub fn load_config(&self, env: BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let flags = ConfigLayer {
            listen: self.listen.clone(),
            data_dir: self.data_dir.clone(),
            services: self.services.clone(),
            ..Default::default()
        };
        Config::load(self.config.as_deref(), &env, flags)
    }
}
