//! The hive mind's flags as every service sees them: a pool (region, zone, instance type) that
//! saw an interruption, flagged until it expires. The risk service raises them; optimizers avoid
//! flagged pools for new capacity. A flag carries nothing about which tenant or cluster raised it,
//! only how many independent tenants did: one tenant's reports steer new capacity away, but
//! moving other tenants' running nodes off the pool before their own warning needs
//! [`CORROBORATING_REPORTERS`] of them, so no tenant alone can make the platform drain another's.
//!
//! Each flag is a bus key with a TTL (so it ends by itself on Redis and in-process alike), and each
//! raise is published on [`TOPIC`]; both carry the flag as `spot.events.v1.RiskFlagRaised`.

use std::time::Duration;

use prost::Message;
use spot_bus::{Bus, BusError, Topic};
use spot_proto::common::v1::Pool;
use spot_proto::events::v1::RiskFlagRaised;

/// Every raised flag.
pub const TOPIC: Topic<RiskFlagRaised> = Topic::new("risk.flags");
const PREFIX: &str = "risk.flag.";
const REPORTERS: &str = "risk.reporter.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub region: String,
    pub zone: String,
    pub instance_type: String,
    pub expires_at_millis: i64,
    /// How many independent tenants reported an interruption in the pool while it was flagged.
    pub reporters: u32,
}

impl From<&Flag> for RiskFlagRaised {
    fn from(flag: &Flag) -> Self {
        Self {
            pool: Some(Pool {
                region: flag.region.clone(),
                zone: flag.zone.clone(),
                instance_type: flag.instance_type.clone(),
            }),
            expires_at_millis: flag.expires_at_millis,
            reporters: flag.reporters,
        }
    }
}

impl Flag {
    /// None for a message without its pool.
    pub fn from_event(raised: RiskFlagRaised) -> Option<Self> {
        let pool = raised.pool?;
        Some(Self {
            region: pool.region,
            zone: pool.zone,
            instance_type: pool.instance_type,
            expires_at_millis: raised.expires_at_millis,
            reporters: raised.reporters,
        })
    }
}

/// Independent tenants whose reports make a flag strong enough to move other tenants' running
/// nodes off the pool before their own warning arrives.
pub const CORROBORATING_REPORTERS: u32 = 2;

impl Flag {
    /// True when enough independent tenants saw the pool interrupted to act on others' nodes.
    pub fn corroborated(&self) -> bool {
        self.reporters >= CORROBORATING_REPORTERS
    }
}

fn key(region: &str, zone: &str, instance_type: &str) -> String {
    format!("{PREFIX}{region}.{zone}.{instance_type}")
}

/// Flags the pool for `ttl` (a second interruption extends it) and announces it.
pub async fn raise(bus: &dyn Bus, flag: &Flag, ttl: Duration) -> Result<(), BusError> {
    let raised = RiskFlagRaised::from(flag);
    bus.set(
        &key(&flag.region, &flag.zone, &flag.instance_type),
        &raised.encode_to_vec(),
        ttl,
    )
    .await?;
    TOPIC.publish(bus, &raised).await
}

/// Remembers for `ttl` that `reporter` (an opaque, stable name for a tenant) saw the pool
/// interrupted; how many distinct reporters the pool has now. A reporter counts once (its key),
/// and the count is a counter beside it, so no report scans the bus's keys. Should the count end
/// before a reporter's key does, that reporter counts as the only one: too few reporters only
/// delays moving other tenants' nodes, never hastens it.
pub async fn add_reporter(
    bus: &dyn Bus,
    flag: &Flag,
    reporter: &str,
    ttl: Duration,
) -> Result<u32, BusError> {
    let pool = format!(
        "{REPORTERS}{}.{}.{}",
        flag.region, flag.zone, flag.instance_type
    );
    let count_key = format!("{pool}#count");
    let reporters = if bus
        .set_if_absent(&format!("{pool}/{reporter}"), b"1", ttl)
        .await?
    {
        bus.increment(&count_key, ttl).await?
    } else {
        bus.get(&count_key)
            .await?
            .and_then(|count| String::from_utf8(count).ok()?.parse::<u64>().ok())
            .unwrap_or(1)
    };
    Ok(u32::try_from(reporters).unwrap_or(u32::MAX))
}

/// Whether `reporter` may flag the flag's pool: a tenant may flag at most `per_hour` distinct
/// pools an hour (a pool it flagged already this hour is free), so a tenant that invents nodes
/// across the catalog cannot steer everyone's new capacity away from many pools at once. The
/// pool is counted once (its key); a refused pool is forgotten so it stays refused, not counted.
pub async fn admit_pool(
    bus: &dyn Bus,
    flag: &Flag,
    reporter: &str,
    per_hour: u64,
) -> Result<bool, BusError> {
    const HOUR: Duration = Duration::from_secs(3_600);
    let pool_key = format!(
        "risk.reporter-pool.{reporter}.{}.{}.{}",
        flag.region, flag.zone, flag.instance_type
    );
    if !bus.set_if_absent(&pool_key, b"1", HOUR).await? {
        return Ok(true);
    }
    let pools = bus
        .increment(&format!("risk.reporter-pools.{reporter}"), HOUR)
        .await?;
    if pools > per_hour {
        bus.delete(&pool_key).await?;
        return Ok(false);
    }
    Ok(true)
}

/// The flags in force in a region.
pub async fn active(bus: &dyn Bus, region: &str) -> Result<Vec<Flag>, BusError> {
    let entries = bus.scan_prefix(&format!("{PREFIX}{region}.")).await?;
    Ok(entries
        .into_iter()
        .filter_map(|(_, value)| Flag::from_event(RiskFlagRaised::decode(value.as_slice()).ok()?))
        .collect())
}
