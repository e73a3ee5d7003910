use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use spot_cloud::{CapacityType, Pool};

/// How long a pool that answered InsufficientInstanceCapacity is left alone.
pub const ICE_TTL: Duration = Duration::from_secs(180);

/// Error codes that mean "this pool has no capacity now", not "the request is wrong".
pub const CAPACITY_ERRORS: &[&str] = &[
    "InsufficientInstanceCapacity",
    "InsufficientCapacity",
    "InsufficientHostCapacity",
    "MaxSpotInstanceCountExceeded",
    "UnfulfillableCapacity",
];

/// Pools (by capacity type) recently out of capacity.
#[derive(Debug, Default)]
pub struct IceCache {
    until: Mutex<HashMap<(Pool, CapacityType), Instant>>,
}

impl IceCache {
    pub fn mark(&self, pool: &Pool, capacity_type: CapacityType) {
        self.lock()
            .insert((pool.clone(), capacity_type), Instant::now() + ICE_TTL);
    }

    pub fn is_unavailable(&self, pool: &Pool, capacity_type: CapacityType) -> bool {
        let mut until = self.lock();
        let key = (pool.clone(), capacity_type);
        match until.get(&key) {
            Some(at) if *at > Instant::now() => true,
            Some(_) => {
                until.remove(&key);
                false
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Pool, CapacityType), Instant>> {
        self.until.lock().unwrap_or_else(|p| p.into_inner())
    }
}
