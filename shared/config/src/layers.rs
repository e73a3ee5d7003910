use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Config, ConfigError, ServiceName};

/// One layer of settings; unset fields leave the layer below in force.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigLayer {
    pub listen: Option<String>,
    /// An address, or `off`.
    pub admin_listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_max_connections: Option<u32>,
    pub redis_url: Option<String>,
    pub bus_namespace: Option<String>,
    /// A comma-separated list, or `all`.
    pub services: Option<String>,
    pub service_urls: BTreeMap<ServiceName, String>,
    pub log: Option<String>,
    pub cors_origins: Option<Vec<String>>,
    /// CIDRs (or bare addresses) of the proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<Vec<String>>,
    pub invite_ttl_seconds: Option<u64>,
    pub password_hash_memory_mib: Option<u64>,
    pub account_actions_per_hour: Option<u64>,
    pub shutdown_grace_seconds: Option<u64>,
    pub internal_secret: Option<String>,
    pub stripe_webhook_secret: Option<String>,
    pub stripe_api_key: Option<String>,
    pub stripe_api_url: Option<String>,
    pub cloud: Option<String>,
    pub aws_endpoint_url: Option<String>,
    pub aws_principal: Option<String>,
    pub public_url: Option<String>,
    pub web_dir: Option<PathBuf>,
    pub settle_seconds: Option<u64>,
    pub lab_interval_seconds: Option<u64>,
    pub price_sample_seconds: Option<u64>,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    /// Overrides of [`crate::Limits`], by name.
    pub limits: BTreeMap<String, u64>,
    pub master_key: Option<String>,
    pub master_key_file: Option<PathBuf>,
}

/// The file format: the same names as the settings, unknown keys refused.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    listen: Option<String>,
    admin_listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    redis_url: Option<String>,
    bus_namespace: Option<String>,
    services: Option<Vec<String>>,
    #[serde(default)]
    service_urls: BTreeMap<ServiceName, String>,
    log: Option<String>,
    cors_origins: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    invite_ttl_seconds: Option<u64>,
    password_hash_memory_mib: Option<u64>,
    account_actions_per_hour: Option<u64>,
    shutdown_grace_seconds: Option<u64>,
    internal_secret: Option<String>,
    stripe_webhook_secret: Option<String>,
    stripe_api_key: Option<String>,
    stripe_api_url: Option<String>,
    cloud: Option<String>,
    aws_endpoint_url: Option<String>,
    aws_principal: Option<String>,
    public_url: Option<String>,
    web_dir: Option<PathBuf>,
    settle_seconds: Option<u64>,
    lab_interval_seconds: Option<u64>,
    price_sample_seconds: Option<u64>,
    admin_email: Option<String>,
    admin_password: Option<String>,
    #[serde(default)]
    limits: BTreeMap<String, u64>,
    master_key: Option<String>,
    master_key_file: Option<PathBuf>,
}

impl From<&Config> for ConfigFile {
    fn from(config: &Config) -> Self {
        Self {
            listen: Some(config.listen.to_string()),
            admin_listen: Some(
                config
                    .admin_listen
                    .map(|addr| addr.to_string())
                    .unwrap_or_else(|| "off".to_owned()),
            ),
            data_dir: Some(config.data_dir.clone()),
            database_url: Some(redact_password(&config.database_url)),
            database_max_connections: Some(config.database_max_connections),
            redis_url: config.redis_url.as_deref().map(redact_password),
            bus_namespace: Some(config.bus_namespace.clone()),
            services: Some(config.services.iter().map(|s| s.to_string()).collect()),
            service_urls: config.service_urls.clone(),
            log: Some(config.log.clone()),
            cors_origins: Some(config.cors_origins.clone()),
            trusted_proxies: Some(
                config
                    .trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            ),
            invite_ttl_seconds: Some(config.invite_ttl_seconds),
            password_hash_memory_mib: Some(config.password_hash_memory_mib),
            account_actions_per_hour: Some(config.account_actions_per_hour),
            shutdown_grace_seconds: Some(config.shutdown_grace_seconds),
            internal_secret: config
                .internal_secret
                .as_ref()
                .map(|_| "REDACTED".to_owned()),
            stripe_webhook_secret: config
                .stripe_webhook_secret
                .as_ref()
                .map(|_| "REDACTED".to_owned()),
            stripe_api_key: config
                .stripe_api_key
                .as_ref()
                .map(|_| "REDACTED".to_owned()),
            stripe_api_url: config.stripe_api_url.clone(),
            cloud: Some(
                match config.cloud {
                    crate::CloudKind::Simulated => "simulated",
                    crate::CloudKind::Aws => "aws",
                }
                .to_owned(),
            ),
            aws_endpoint_url: config.aws_endpoint_url.clone(),
            aws_principal: config.aws_principal.clone(),
            public_url: config.public_url.clone(),
            web_dir: config.web_dir.clone(),
            settle_seconds: Some(config.settle_seconds),
            lab_interval_seconds: Some(config.lab_interval_seconds),
            price_sample_seconds: Some(config.price_sample_seconds),
            admin_email: config.admin_email.clone(),
            admin_password: config
                .admin_password
                .as_ref()
                .map(|_| "REDACTED".to_owned()),
            limits: config.limits.by_name(),
            master_key: config.master_key.as_ref().map(|_| "REDACTED".to_owned()),
            master_key_file: config.master_key_file.clone(),
        }
    }
}

/// Hides a password in a connection URL so `--dump-config` is safe to paste.
fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Every `SPOT_` variable the loader understands, besides `SPOT_<SERVICE>_URL`.
const ENV_SETTINGS: &[&str] = &[
    "SPOT_CONFIG",
    "SPOT_LISTEN",
    "SPOT_ADMIN_LISTEN",
    "SPOT_DATA_DIR",
    "SPOT_DATABASE_URL",
    "SPOT_DATABASE_MAX_CONNECTIONS",
    "SPOT_REDIS_URL",
    "SPOT_BUS_NAMESPACE",
    "SPOT_SERVICES",
    "SPOT_LOG",
    "SPOT_CORS_ORIGINS",
    "SPOT_TRUSTED_PROXIES",
    "SPOT_INVITE_TTL_SECONDS",
    "SPOT_PASSWORD_HASH_MEMORY_MIB",
    "SPOT_ACCOUNT_ACTIONS_PER_HOUR",
    "SPOT_SHUTDOWN_GRACE_SECONDS",
    "SPOT_INTERNAL_SECRET",
    "SPOT_STRIPE_WEBHOOK_SECRET",
    "SPOT_STRIPE_API_KEY",
    "SPOT_STRIPE_API_URL",
    "SPOT_CLOUD",
    "SPOT_AWS_ENDPOINT_URL",
    "SPOT_AWS_PRINCIPAL",
    "SPOT_PUBLIC_URL",
    "SPOT_WEB_DIR",
    "SPOT_SETTLE_SECONDS",
    "SPOT_LAB_INTERVAL_SECONDS",
    "SPOT_PRICE_SAMPLE_SECONDS",
    "SPOT_ADMIN_EMAIL",
    "SPOT_ADMIN_PASSWORD",
    "SPOT_MASTER_KEY",
    "SPOT_MASTER_KEY_FILE",
];

impl ConfigLayer {
    /// Later layers win field by field.
    pub fn merge(&mut self, over: ConfigLayer) {
        macro_rules! take {
            ($($field:ident),*) => { $( if over.$field.is_some() { self.$field = over.$field; } )* };
        }
        take!(
            listen,
            admin_listen,
            data_dir,
            database_url,
            database_max_connections,
            redis_url,
            bus_namespace,
            services,
            log,
            cors_origins,
            trusted_proxies,
            invite_ttl_seconds,
            password_hash_memory_mib,
            account_actions_per_hour,
            shutdown_grace_seconds,
            internal_secret,
            stripe_webhook_secret,
            stripe_api_key,
            stripe_api_url,
            cloud,
            aws_endpoint_url,
            aws_principal,
            public_url,
            web_dir,
            settle_seconds,
            lab_interval_seconds,
            price_sample_seconds,
            admin_email,
            admin_password,
            master_key,
            master_key_file
        );
        self.service_urls.extend(over.service_urls);
        self.limits.extend(over.limits);
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let setting = format!("file {}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(&setting, format!("cannot be read: {e}")))?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            ConfigError::new(&setting, e.message().replace('\n', " ").trim().to_owned())
        })?;
        Ok(Self {
            listen: file.listen,
            admin_listen: file.admin_listen,
            data_dir: file.data_dir,
            database_url: file.database_url,
            database_max_connections: file.database_max_connections,
            redis_url: file.redis_url,
            bus_namespace: file.bus_namespace,
            services: file.services.map(|list| list.join(",")),
            service_urls: file.service_urls,
            log: file.log,
            cors_origins: file.cors_origins,
            trusted_proxies: file.trusted_proxies,
            invite_ttl_seconds: file.invite_ttl_seconds,
            password_hash_memory_mib: file.password_hash_memory_mib,
            account_actions_per_hour: file.account_actions_per_hour,
            shutdown_grace_seconds: file.shutdown_grace_seconds,
            internal_secret: file.internal_secret,
            stripe_webhook_secret: file.stripe_webhook_secret,
            stripe_api_key: file.stripe_api_key,
            stripe_api_url: file.stripe_api_url,
            cloud: file.cloud,
            aws_endpoint_url: file.aws_endpoint_url,
            aws_principal: file.aws_principal,
            public_url: file.public_url,
            web_dir: file.web_dir,
            settle_seconds: file.settle_seconds,
            lab_interval_seconds: file.lab_interval_seconds,
            price_sample_seconds: file.price_sample_seconds,
            admin_email: file.admin_email,
            admin_password: file.admin_password,
            limits: file.limits,
            master_key: file.master_key,
            master_key_file: file.master_key_file,
        })
    }

    /// Reads `SPOT_*` variables. An unknown `SPOT_` variable is an error, so a typo never goes unnoticed.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut layer = Self::default();
        for (key, value) in env.iter().filter(|(k, _)| k.starts_with("SPOT_")) {
            if let Some(service) = service_of_url_var(key) {
                layer.service_urls.insert(service, value.clone());
                continue;
            }
            if let Some(limit) = crate::limits::limit_of_env_var(key) {
                let number = u64::from_str(value).map_err(|_| {
                    ConfigError::new(key, format!("`{value}` is not a whole number"))
                })?;
                layer.limits.insert(limit, number);
                continue;
            }
            if !ENV_SETTINGS.contains(&key.as_str()) {
                return Err(ConfigError::new(
                    key,
                    "unknown setting (see the configuration table in README.md)",
                ));
            }
            let value = value.clone();
            match key.as_str() {
                "SPOT_LISTEN" => layer.listen = Some(value),
                "SPOT_ADMIN_LISTEN" => layer.admin_listen = Some(value),
                "SPOT_DATA_DIR" => layer.data_dir = Some(PathBuf::from(value)),
                "SPOT_DATABASE_URL" => layer.database_url = Some(value),
                "SPOT_DATABASE_MAX_CONNECTIONS" => {
                    layer.database_max_connections = Some(u32::from_str(&value).map_err(|_| {
                        ConfigError::new(key, format!("`{value}` is not a whole number"))
                    })?)
                }
                "SPOT_REDIS_URL" => layer.redis_url = Some(value).filter(|v| !v.is_empty()),
                "SPOT_SERVICES" => layer.services = Some(value),
                "SPOT_BUS_NAMESPACE" => layer.bus_namespace = Some(value),
                "SPOT_LOG" => layer.log = Some(value),
                "SPOT_INTERNAL_SECRET" => layer.internal_secret = Some(value),
                "SPOT_STRIPE_WEBHOOK_SECRET" => {
                    layer.stripe_webhook_secret = Some(value).filter(|v| !v.is_empty())
                }
                "SPOT_STRIPE_API_KEY" => {
                    layer.stripe_api_key = Some(value).filter(|v| !v.is_empty())
                }
                "SPOT_STRIPE_API_URL" => {
                    layer.stripe_api_url = Some(value).filter(|v| !v.is_empty())
                }
                "SPOT_CLOUD" => layer.cloud = Some(value),
                "SPOT_AWS_ENDPOINT_URL" => layer.aws_endpoint_url = Some(value),
                "SPOT_AWS_PRINCIPAL" => layer.aws_principal = Some(value),
                "SPOT_PUBLIC_URL" => layer.public_url = Some(value),
                "SPOT_WEB_DIR" => {
                    layer.web_dir = Some(PathBuf::from(value)).filter(|p| !p.as_os_str().is_empty())
                }
                "SPOT_ADMIN_EMAIL" => layer.admin_email = Some(value),
                "SPOT_ADMIN_PASSWORD" => layer.admin_password = Some(value),
                "SPOT_MASTER_KEY" => layer.master_key = Some(value).filter(|v| !v.is_empty()),
                "SPOT_MASTER_KEY_FILE" => {
                    layer.master_key_file =
                        Some(PathBuf::from(value)).filter(|p| !p.as_os_str().is_empty())
                }
                "SPOT_CORS_ORIGINS" => {
                    layer.cors_origins = Some(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|o| !o.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    )
                }
                "SPOT_TRUSTED_PROXIES" => {
                    layer.trusted_proxies = Some(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|p| !p.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    )
                }
                "SPOT_INVITE_TTL_SECONDS" => {
                    layer.invite_ttl_seconds = Some(u64::from_str(&value).map_err(|_| {
                        ConfigError::new(key, format!("`{value}` is not a whole number of seconds"))
                    })?)
                }
                "SPOT_PASSWORD_HASH_MEMORY_MIB" => {
                    layer.password_hash_memory_mib = Some(u64::from_str(&value).map_err(|_| {
                        ConfigError::new(key, format!("`{value}` is not a whole number of MiB"))
                    })?)
                }
                "SPOT_ACCOUNT_ACTIONS_PER_HOUR" => {
                    layer.account_actions_per_hour = Some(u64::from_str(&value).map_err(|_| {
                        ConfigError::new(key, format!("`{value}` is not a whole number"))
                    })?)
                }
                "SPOT_SHUTDOWN_GRACE_SECONDS" => {
                    layer.shutdown_grace_seconds = Some(u64::from_str(&value).map_err(|_| {
                        ConfigError::new(key, format!("`{value}` is not a whole number of seconds"))
                    })?)
                }
                "SPOT_SETTLE_SECONDS" => {
                    layer.settle_seconds = Some(u64::from_str(&value).map_err(|_| {
                        ConfigError::new(key, format!("`{value}` is not a whole number of seconds"))
                    })?)
                }
                "SPOT_LAB_INTERVAL_SECONDS" => {
                    layer.lab_interval_seconds = Some(u64::from_str(&value).map_err(|_| {
                        ConfigError::new(key, format!("`{value}` is not a whole number of seconds"))
                    })?)
                }
                "SPOT_PRICE_SAMPLE_SECONDS" => {
                    layer.price_sample_seconds = Some(u64::from_str(&value).map_err(|_| {
                        ConfigError::new(key, format!("`{value}` is not a whole number of seconds"))
                    })?)
                }
                _ => {} // SPOT_CONFIG is read by Config::load.
            }
        }
        Ok(layer)
    }
}

fn service_of_url_var(key: &str) -> Option<ServiceName> {
    ServiceName::ALL
        .into_iter()
        .find(|service| service.url_env_var() == key)
}
