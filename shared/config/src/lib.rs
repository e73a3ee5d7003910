//! One typed configuration for a `spot` process, layered defaults -> file -> `SPOT_` environment
//! -> flags, then validated. The loader takes the environment as an argument so tests pass their own.

mod layers;
mod limits;
mod service;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

pub use layers::ConfigLayer;
pub use limits::{LIMITS, Limit, Limits};
pub use service::{ServiceName, parse_service_list};

/// A setting that failed to load or validate. The message names the setting and the problem, on one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("config `{setting}`: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            problem: problem.into(),
        }
    }
}

/// Which cloud the cluster service acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudKind {
    Simulated,
    Aws,
}

/// The validated configuration of one process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Address the one port (gRPC, grpc-web, health, reflection) listens on.
    pub listen: SocketAddr,
    /// Address of the admin port (`/metrics`, `/healthz`, `/readyz`), kept off the public port so
    /// the platform's internals are not published to the internet; none when `off`.
    pub admin_listen: Option<SocketAddr>,
    /// Where the embedded database and other local state live.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; defaults to a SQLite file in the data dir.
    pub database_url: String,
    /// Pooled database connections per process.
    pub database_max_connections: u32,
    /// `redis://...` for the shared bus; none means the in-process bus (one replica only).
    pub redis_url: Option<String>,
    /// Every Redis key and topic lives under this prefix, so deployments can share one Redis.
    pub bus_namespace: String,
    /// The services this process runs.
    pub services: Vec<ServiceName>,
    /// Where the services this process does not run are reached.
    pub service_urls: BTreeMap<ServiceName, String>,
    /// Log filter, in `tracing_subscriber::EnvFilter` syntax.
    pub log: String,
    /// Origins allowed to call the grpc-web edge from a browser.
    pub cors_origins: Vec<String>,
    /// The proxies (load balancers, ingress) in front of the platform: only a peer in one of these
    /// networks is believed when it says, in `X-Forwarded-For`, whom it forwards for. Empty: the
    /// peer address is the client, whatever the header says.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long an invitation can be accepted (seconds); after that the inviter invites again.
    pub invite_ttl_seconds: u64,
    /// Memory password hashing may use at once (MiB); each Argon2 hash takes 19 MiB, so this
    /// sizes how many run together (the rest wait their turn).
    pub password_hash_memory_mib: u64,
    /// Sign-ups, invite acceptances and password changes allowed per client address and hour,
    /// each counted on its own (they are costly: a password hash each).
    pub account_actions_per_hour: u64,
    /// How long in-flight calls get to finish after SIGTERM/SIGINT.
    pub shutdown_grace_seconds: u64,
    /// The secret services sign their calls to each other with. Generated per process when every
    /// service runs in it; required (the same in every process) in the distributed mode.
    #[serde(skip)]
    pub internal_secret: Option<String>,
    /// The signing secret of the Stripe webhook endpoint (`whsec_...`); unset: Stripe events are
    /// refused.
    #[serde(skip)]
    pub stripe_webhook_secret: Option<String>,
    /// The secret key (`sk_...`) billing creates Stripe customers and invoices with; unset:
    /// closed invoices stay on the platform (nothing is sent to Stripe).
    #[serde(skip)]
    pub stripe_api_key: Option<String>,
    /// Stripe's API (https://api.stripe.com when unset; another for a test peer).
    pub stripe_api_url: Option<String>,
    /// `simulated` (the embedded default's world) or `aws` (linked accounts through EC2).
    pub cloud: CloudKind,
    /// Another EC2/STS endpoint than AWS's (a test peer such as moto's server).
    pub aws_endpoint_url: Option<String>,
    /// The platform's IAM principal customers' roles trust, shown in the link instructions.
    pub aws_principal: Option<String>,
    /// Where agents and browsers reach the platform from outside (a load balancer), e.g.
    /// https://spot.example.com; agents' install commands point there. Unset: the cluster
    /// service's own URL.
    pub public_url: Option<String>,
    /// The built web app (Vite's `dist`) the edge serves beside the API; unset: no web app.
    pub web_dir: Option<PathBuf>,
    /// How long the optimizer lets a cluster's changes settle before it re-plans and samples
    /// its cost again (seconds; the demo uses 5).
    pub settle_seconds: u64,
    /// How often the lab's experiments decide in shadow (seconds); also a risk-model decision's
    /// horizon.
    pub lab_interval_seconds: u64,
    /// How often the risk service samples the spot prices of the pools the platform runs in
    /// (seconds); their recent volatility is part of every risk score.
    pub price_sample_seconds: u64,
    /// The first platform admin, created at start when no platform admin exists yet.
    pub admin_email: Option<String>,
    #[serde(skip)]
    pub admin_password: Option<String>,
    /// Quotas and retention.
    pub limits: Limits,
    /// The key-encryption key secrets in the database are sealed with (base64 of 32 bytes).
    #[serde(skip)]
    pub master_key: Option<String>,
    /// A file holding the master key instead (a mounted Kubernetes Secret, say).
    pub master_key_file: Option<PathBuf>,
}

impl Config {
    /// Loads the layers in order and validates the result.
    /// `file` is the `--config` flag; `SPOT_CONFIG` in `env` is used when it is absent.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
        flags: ConfigLayer,
    ) -> Result<Config, ConfigError> {
        let mut layer = ConfigLayer::default();
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env.get("SPOT_CONFIG").map(PathBuf::from));
        if let Some(file) = file {
            layer.merge(ConfigLayer::from_file(&file)?);
        }
        layer.merge(ConfigLayer::from_env(env)?);
        layer.merge(flags);
        Self::from_layer(layer)
    }

    fn from_layer(layer: ConfigLayer) -> Result<Config, ConfigError> {
        let data_dir = layer
            .data_dir
            .unwrap_or_else(|| PathBuf::from("./spot-data"));
        let listen_text = layer.listen.unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let listen = listen_text.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
            )
        })?;
        let admin_text = layer
            .admin_listen
            .unwrap_or_else(|| "127.0.0.1:9090".to_owned());
        let admin_listen = match admin_text.trim() {
            "off" | "" => None,
            text => Some(text.parse().map_err(|_| {
                ConfigError::new(
                    "admin_listen",
                    format!("`{text}` is not an address like 127.0.0.1:9090, or `off`"),
                )
            })?),
        };
        let database_url = layer
            .database_url
            .unwrap_or_else(|| default_sqlite_url(&data_dir));
        let services = match layer.services {
            Some(list) => parse_service_list(&list).map_err(|p| ConfigError::new("services", p))?,
            None => ServiceName::ALL.to_vec(),
        };
        let config = Config {
            listen,
            admin_listen,
            data_dir,
            database_url,
            database_max_connections: layer.database_max_connections.unwrap_or(10),
            redis_url: layer.redis_url,
            bus_namespace: layer.bus_namespace.unwrap_or_else(|| "spot".to_owned()),
            services,
            service_urls: layer.service_urls,
            log: layer.log.unwrap_or_else(|| "info".to_owned()),
            cors_origins: layer.cors_origins.unwrap_or_default(),
            trusted_proxies: parse_networks(
                "trusted_proxies",
                &layer.trusted_proxies.unwrap_or_default(),
            )?,
            invite_ttl_seconds: layer.invite_ttl_seconds.unwrap_or(7 * 24 * 3600),
            password_hash_memory_mib: layer.password_hash_memory_mib.unwrap_or(256),
            account_actions_per_hour: layer.account_actions_per_hour.unwrap_or(20),
            shutdown_grace_seconds: layer.shutdown_grace_seconds.unwrap_or(20),
            internal_secret: layer.internal_secret,
            stripe_webhook_secret: layer.stripe_webhook_secret,
            stripe_api_key: layer.stripe_api_key,
            stripe_api_url: layer.stripe_api_url,
            cloud: match layer.cloud.as_deref() {
                None | Some("simulated") => CloudKind::Simulated,
                Some("aws") => CloudKind::Aws,
                Some(other) => {
                    return Err(ConfigError::new(
                        "cloud",
                        format!("`{other}` is not `simulated` or `aws`"),
                    ));
                }
            },
            aws_endpoint_url: layer.aws_endpoint_url,
            aws_principal: layer.aws_principal,
            public_url: layer.public_url,
            web_dir: layer.web_dir,
            settle_seconds: layer.settle_seconds.unwrap_or(30),
            lab_interval_seconds: layer.lab_interval_seconds.unwrap_or(300),
            price_sample_seconds: layer.price_sample_seconds.unwrap_or(300),
            admin_email: layer.admin_email,
            admin_password: layer.admin_password,
            limits: Limits::from_overrides(&layer.limits)?,
            master_key: layer.master_key,
            master_key_file: layer.master_key_file,
        };
        config.validate()?;
        Ok(config)
    }

    pub fn runs(&self, service: ServiceName) -> bool {
        self.services.contains(&service)
    }

    /// The URL a service is reached at: this process's own port when it runs it here, or its configured URL.
    pub fn url_of(&self, service: ServiceName) -> Option<String> {
        if self.runs(service) {
            let host = match self.listen.ip() {
                ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
                ip if ip.is_unspecified() => "[::1]".to_owned(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                std::net::IpAddr::V4(ip) => ip.to_string(),
            };
            Some(format!("http://{host}:{}", self.listen.port()))
        } else {
            self.service_urls.get(&service).cloned()
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }

    /// The configuration as TOML, for `spot --dump-config`.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&layers::ConfigFile::from(self)).unwrap_or_default()
    }
}

fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("spot.db").display())
}

/// Parses CIDRs (`10.0.0.0/8`, `fd00::/8`); a bare address is a network of one.
fn parse_networks(setting: &str, values: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    values
        .iter()
        .map(|value| {
            let value = value.trim();
            value
                .parse::<ipnet::IpNet>()
                .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|network| network.trunc())
                .map_err(|_| {
                    ConfigError::new(
                        setting,
                        format!("`{value}` is not a network like 10.0.0.0/8 or an address"),
                    )
                })
        })
        .collect()
}

/// Creates the data dir when missing (mode 0700: it holds the database, signing keys and the first
/// admin's password) and proves it is writable, so a bad dir is one clear error at start.
pub fn ensure_data_dir_writable(data_dir: &Path) -> Result<(), ConfigError> {
    let fail = |e: std::io::Error| {
        ConfigError::new(
            "data_dir",
            format!("`{}` is not writable: {e}", data_dir.display()),
        )
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(data_dir).map_err(fail)?;
    let probe = data_dir.join(".write-probe");
    std::fs::write(&probe, b"ok").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// Parses a URL and checks its scheme; used by validation for every URL setting.
fn check_url(setting: &str, value: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    let url = Url::parse(value)
        .map_err(|e| ConfigError::new(setting, format!("`{value}` is not a valid URL: {e}")))?;
    if !schemes.contains(&url.scheme()) {
        return Err(ConfigError::new(
            setting,
            format!(
                "`{value}` has scheme `{}`, expected one of: {}",
                url.scheme(),
                schemes.join(", ")
            ),
        ));
    }
    Ok(())
}
