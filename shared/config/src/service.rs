use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The platform's gRPC services. Any subset runs in one `spot serve` process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceName {
    Auth,
    Cluster,
    Policy,
    Billing,
    Risk,
    Optimizer,
}

impl ServiceName {
    pub const ALL: [ServiceName; 6] = [
        Self::Auth,
        Self::Cluster,
        Self::Policy,
        Self::Billing,
        Self::Risk,
        Self::Optimizer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Cluster => "cluster",
            Self::Policy => "policy",
            Self::Billing => "billing",
            Self::Risk => "risk",
            Self::Optimizer => "optimizer",
        }
    }

    /// The environment variable that points at this service when another process runs it.
    pub fn url_env_var(self) -> String {
        format!("SPOT_{}_URL", self.as_str().to_uppercase())
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|service| service.as_str() == s.trim())
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown service `{s}` (known: {})", known.join(", "))
            })
    }
}

/// Parses `cluster,risk` (or `all`).
pub fn parse_service_list(list: &str) -> Result<Vec<ServiceName>, String> {
    if list.trim() == "all" {
        return Ok(ServiceName::ALL.to_vec());
    }
    let mut services = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(ServiceName::from_str)
        .collect::<Result<Vec<_>, _>>()?;
    if services.is_empty() {
        return Err("names no service".to_owned());
    }
    services.sort();
    services.dedup();
    Ok(services)
}
