//! Clusters the hibernation scheduler has put to sleep, or is putting to sleep or waking: the
//! optimizer's autopilot leaves them alone, or it would launch nodes for the very pods a
//! hibernation drained.
//!
//! Each mark is a bus key with a TTL that the scheduler renews while the cluster is not awake, so
//! a mark does not outlive a stopped scheduler by long.

use std::time::Duration;

use spot_bus::{Bus, BusError};

const PREFIX: &str = "hibernation.asleep.";
/// How long a mark lasts unless renewed.
pub const MARK_TTL: Duration = Duration::from_secs(600);

fn key(cluster_id: &str) -> String {
    format!("{PREFIX}{cluster_id}")
}

pub async fn mark(bus: &dyn Bus, cluster_id: &str) -> Result<(), BusError> {
    bus.set(&key(cluster_id), b"1", MARK_TTL).await
}

pub async fn clear(bus: &dyn Bus, cluster_id: &str) -> Result<(), BusError> {
    bus.delete(&key(cluster_id)).await
}

pub async fn is_marked(bus: &dyn Bus, cluster_id: &str) -> Result<bool, BusError> {
    Ok(bus.get(&key(cluster_id)).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_mark_is_seen_until_cleared() {
        let bus = spot_bus::InProcessBus::new();
        assert!(!is_marked(&bus, "c1").await.unwrap());
        mark(&bus, "c1").await.unwrap();
        assert!(is_marked(&bus, "c1").await.unwrap());
        assert!(!is_marked(&bus, "c2").await.unwrap());
        clear(&bus, "c1").await.unwrap();
        assert!(!is_marked(&bus, "c1").await.unwrap());
    }
}
