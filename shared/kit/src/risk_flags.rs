//! The hive mind's flags as every service sees them: a pool (region, zone, instance type) that
//! saw an interruption, flagged until it expires. The risk service raises them; optimizers avoid
//! flagged pools. A flag carries nothing about which tenant or cluster raised it.
//!
//! Each flag is a bus key with a TTL (so it ends by itself on Redis and in-process alike), and each
//! raise is published on [`TOPIC`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use spot_bus::{Bus, BusError};

/// Every raised flag, as JSON [`Flag`].
pub const TOPIC: &str = "risk.flags";
const PREFIX: &str = "risk.flag.";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub region: String,
    pub zone: String,
    pub instance_type: String,
    pub expires_at_millis: i64,
}

fn key(region: &str, zone: &str, instance_type: &str) -> String {
    format!("{PREFIX}{region}.{zone}.{instance_type}")
}

/// Flags the pool for `ttl` (a second interruption extends it) and announces it.
pub async fn raise(bus: &dyn Bus, flag: &Flag, ttl: Duration) -> Result<(), BusError> {
    let value = serde_json::to_vec(flag).unwrap_or_default();
    bus.set(
        &key(&flag.region, &flag.zone, &flag.instance_type),
        &value,
        ttl,
    )
    .await?;
    bus.publish(TOPIC, &value).await
}

/// The flags in force in a region.
pub async fn active(bus: &dyn Bus, region: &str) -> Result<Vec<Flag>, BusError> {
    let entries = bus.scan_prefix(&format!("{PREFIX}{region}.")).await?;
    Ok(entries
        .into_iter()
        .filter_map(|(_, value)| serde_json::from_slice(&value).ok())
        .collect())
}
