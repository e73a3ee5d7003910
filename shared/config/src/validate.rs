use crate::{Config, ConfigError, check_url};

impl Config {
    /// Checks every setting; the first problem is returned naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_url(
            "database_url",
            &self.database_url,
            &["sqlite", "postgres", "postgresql"],
        )?;
        if !(1..=500).contains(&self.database_max_connections) {
            return Err(ConfigError::new(
                "database_max_connections",
                format!("{} is outside 1..=500", self.database_max_connections),
            ));
        }
        if self.bus_namespace.is_empty()
            || !self
                .bus_namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::new(
                "bus_namespace",
                format!(
                    "`{}` must be letters, digits, `-` or `_`",
                    self.bus_namespace
                ),
            ));
        }
        if let Some(redis_url) = &self.redis_url {
            check_url("redis_url", redis_url, &["redis", "rediss"])?;
        }
        if let Some(url) = &self.aws_endpoint_url {
            check_url("aws_endpoint_url", url, &["http", "https"])?;
        }
        if let Some(url) = &self.public_url {
            check_url("public_url", url, &["http", "https"])?;
        }
        if !(1..=3_600).contains(&self.settle_seconds) {
            return Err(ConfigError::new(
                "settle_seconds",
                format!("{} is not between 1 and 3600", self.settle_seconds),
            ));
        }
        if !(1..=86_400).contains(&self.lab_interval_seconds) {
            return Err(ConfigError::new(
                "lab_interval_seconds",
                format!("{} is not between 1 and 86400", self.lab_interval_seconds),
            ));
        }
        if !(1..=86_400).contains(&self.price_sample_seconds) {
            return Err(ConfigError::new(
                "price_sample_seconds",
                format!("{} is not between 1 and 86400", self.price_sample_seconds),
            ));
        }
        if let Some(principal) = &self.aws_principal
            && !principal.starts_with("arn:")
        {
            return Err(ConfigError::new(
                "aws_principal",
                format!("`{principal}` is not an IAM ARN (arn:aws:iam::<account>:role/<name>)"),
            ));
        }
        for (service, url) in &self.service_urls {
            check_url(&service.url_env_var(), url, &["http", "https"])?;
        }
        for service in crate::ServiceName::ALL {
            if !self.runs(service) && !self.service_urls.contains_key(&service) {
                return Err(ConfigError::new(
                    service.url_env_var(),
                    format!(
                        "required: this process does not run `{service}` (services = {}), so it must know where `{service}` runs",
                        self.services
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                ));
            }
        }
        if let Some(secret) = &self.stripe_webhook_secret
            && secret.len() < 16
        {
            // HMAC under an empty or short key is a signature anyone can make.
            return Err(ConfigError::new(
                "stripe_webhook_secret",
                format!(
                    "is {} characters; use the endpoint's signing secret from Stripe (whsec_...)",
                    secret.len()
                ),
            ));
        }
        match &self.internal_secret {
            Some(secret) if secret.len() < 32 => {
                return Err(ConfigError::new(
                    "internal_secret",
                    format!(
                        "is {} characters; use at least 32 random characters",
                        secret.len()
                    ),
                ));
            }
            None if self.services.len() < crate::ServiceName::ALL.len() => {
                return Err(ConfigError::new(
                    "internal_secret",
                    "required in the distributed mode (the same value in every process), e.g. `openssl rand -hex 32`",
                ));
            }
            _ => {}
        }
        if self.admin_email.is_some() != self.admin_password.is_some() {
            return Err(ConfigError::new(
                "admin_password",
                "SPOT_ADMIN_EMAIL and SPOT_ADMIN_PASSWORD are set together or not at all",
            ));
        }
        for origin in &self.cors_origins {
            if origin == "*" {
                return Err(ConfigError::new(
                    "cors_origins",
                    "a wildcard origin is refused because the web app sends credentials; list the origins",
                ));
            }
            check_url("cors_origins", origin, &["http", "https"])?;
            // A browser sends the bare origin; anything else would never match it.
            let bare = url::Url::parse(origin)
                .map(|url| url.origin().ascii_serialization())
                .unwrap_or_default();
            if bare != *origin {
                return Err(ConfigError::new(
                    "cors_origins",
                    format!(
                        "`{origin}` is not an origin as browsers send it (scheme://host[:port], no path, query or trailing slash): use `{bare}`"
                    ),
                ));
            }
        }
        if !(1..=30 * 24 * 3600).contains(&self.invite_ttl_seconds) {
            return Err(ConfigError::new(
                "invite_ttl_seconds",
                format!(
                    "{} is not between 1 and 2592000 (30 days)",
                    self.invite_ttl_seconds
                ),
            ));
        }
        if !(19..=65_536).contains(&self.password_hash_memory_mib) {
            return Err(ConfigError::new(
                "password_hash_memory_mib",
                format!(
                    "{} is not between 19 (one hash) and 65536",
                    self.password_hash_memory_mib
                ),
            ));
        }
        if !(1..=100_000).contains(&self.account_actions_per_hour) {
            return Err(ConfigError::new(
                "account_actions_per_hour",
                format!(
                    "{} is not between 1 and 100000",
                    self.account_actions_per_hour
                ),
            ));
        }
        if let Some(admin) = self.admin_listen
            && admin == self.listen
            && admin.port() != 0
        {
            return Err(ConfigError::new(
                "admin_listen",
                format!("{admin} is also `listen`: the admin port must be another one"),
            ));
        }
        if self.shutdown_grace_seconds == 0 || self.shutdown_grace_seconds > 600 {
            return Err(ConfigError::new(
                "shutdown_grace_seconds",
                format!("{} is outside 1..=600", self.shutdown_grace_seconds),
            ));
        }
        if self.log.trim().is_empty() {
            return Err(ConfigError::new("log", "must not be empty"));
        }
        Ok(())
    }
}
