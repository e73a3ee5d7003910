//! The simulated cloud: the real catalog, spot prices that move per pool (a mean-reverting random
//! walk), interruptions drawn per pool from its advisor bucket, and capacity shortages now and then.
//! Time only moves when [`SimulatedCloud::advance`] is called, and every draw comes from one seeded
//! generator, so a seed replays the same world.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::node_class::FieldError;
use crate::provider::{
    CapacityType, CloudError, CloudProvider, Instance, InstanceState, LaunchFailure, LaunchRequest,
    LaunchResult, Offering, Pool, SpotPrice,
};
use crate::{Architecture, Catalog, KubeCluster, LaunchSpec, NodeClass, NodeClassError, zones_of};

/// Monthly share of instances interrupted, per advisor bucket (midpoints of <5%, 5-10%, 10-15%,
/// 15-20% and a representative 25% for >20%).
const MONTHLY_INTERRUPTION: [f64; 5] = [0.025, 0.075, 0.125, 0.175, 0.25];
const HOURS_PER_MONTH: f64 = 730.0;
/// The notice AWS gives before reclaiming a spot instance.
pub const NOTICE_SECONDS: i64 = 120;

#[derive(Debug, Clone, PartialEq)]
pub struct SimulationSettings {
    pub seed: u64,
    /// Interruptions come this many times faster than the advisor's rates (demo speed).
    pub speedup: f64,
    /// Chance that a pool has no capacity when a launch asks it.
    pub shortage_probability: f64,
    /// How long a pool stays short once it is.
    pub shortage_seconds: i64,
    /// Hourly volatility of spot prices (fraction of the price).
    pub price_volatility: f64,
    /// Simulated start, unix seconds.
    pub start: i64,
}

impl Default for SimulationSettings {
    fn default() -> Self {
        Self {
            seed: 42,
            speedup: 1.0,
            shortage_probability: 0.02,
            shortage_seconds: 300,
            price_volatility: 0.04,
            start: 1_767_225_600, // 2026-01-01T00:00:00Z
        }
    }
}

/// A spot interruption notice the simulation issued.
#[derive(Debug, Clone, PartialEq)]
pub struct Interruption {
    pub instance_id: String,
    pub pool: Pool,
    /// When the instance is reclaimed (notice + 120 s), unix seconds.
    pub action_at: i64,
}

#[derive(Debug)]
struct PoolPrice {
    mean: f64,
    current: f64,
    /// AWS never charges more for spot than on-demand.
    ceiling: f64,
}

#[derive(Debug)]
struct State {
    rng: ChaCha8Rng,
    now: i64,
    prices: BTreeMap<Pool, PoolPrice>,
    instances: BTreeMap<String, Instance>,
    short_until: BTreeMap<Pool, i64>,
    reclaim_at: BTreeMap<String, i64>,
    /// What each client token launched, so a repeated launch answers the same (as EC2 does).
    launched_by_token: BTreeMap<String, LaunchResult>,
}

#[derive(Debug)]
pub struct SimulatedCloud {
    settings: SimulationSettings,
    catalog: &'static Catalog,
    state: Mutex<State>,
    /// Offerings never change; computed once per region.
    offerings: Mutex<BTreeMap<String, Vec<Offering>>>,
}

impl SimulatedCloud {
    pub fn new(settings: SimulationSettings) -> Self {
        let state = State {
            rng: ChaCha8Rng::seed_from_u64(settings.seed),
            now: settings.start,
            prices: BTreeMap::new(),
            instances: BTreeMap::new(),
            short_until: BTreeMap::new(),
            reclaim_at: BTreeMap::new(),
            launched_by_token: BTreeMap::new(),
        };
        Self {
            settings,
            catalog: Catalog::embedded(),
            state: Mutex::new(state),
            offerings: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Simulated time, unix seconds.
    pub fn now(&self) -> i64 {
        self.state().now
    }

    /// Whether `zone` offers `instance_type`: every type the advisor lists for the region in its
    /// first three zones; later zones lack a fixed pseudo-random tenth of types, as real ones do.
    pub fn offers(&self, zone: &str, instance_type: &str) -> bool {
        let region = zone.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let listed = matches!(self.catalog.advice(region, instance_type), Ok(Some(_)));
        let zone_index = zones_of(region).iter().position(|z| z == zone);
        match zone_index {
            Some(0..=2) => listed,
            Some(_) => listed && !stable_hash(zone, instance_type).is_multiple_of(10),
            None => false,
        }
    }

    /// Every instance ever launched or added, terminated ones included: what a test counts.
    pub fn all_instances(&self) -> Vec<Instance> {
        self.state().instances.values().cloned().collect()
    }

    /// Makes `pool` run out of capacity for `seconds` of simulated time (a capacity crunch).
    pub fn run_short(&self, pool: &Pool, seconds: i64) {
        let mut state = self.state();
        let until = state.now + seconds;
        state.short_until.insert(pool.clone(), until);
    }

    /// Adds running instances tagged as EKS tags its nodes, as if a cluster already ran there.
    pub fn add_cluster_nodes(
        &self,
        cluster: &str,
        nodes: &[(Pool, CapacityType)],
    ) -> Vec<Instance> {
        let mut state = self.state();
        let now = state.now;
        nodes
            .iter()
            .map(|(pool, capacity_type)| {
                let tags = BTreeMap::from([
                    (
                        format!("kubernetes.io/cluster/{cluster}"),
                        "owned".to_owned(),
                    ),
                    ("eks:cluster-name".to_owned(), cluster.to_owned()),
                ]);
                let instance =
                    new_instance(&mut state.rng, pool.clone(), *capacity_type, tags, now);
                state
                    .instances
                    .insert(instance.id.clone(), instance.clone());
                instance
            })
            .collect()
    }

    /// Moves time forward: prices walk, spot instances may get interruption notices, noticed
    /// instances are reclaimed when their two minutes are up. Returns the new notices.
    pub fn advance(&self, seconds: i64) -> Vec<Interruption> {
        let settings = &self.settings;
        let mut state = self.state();
        state.now += seconds;
        let now = state.now;
        let hours = seconds as f64 / 3600.0;

        let State {
            rng,
            prices,
            instances,
            reclaim_at,
            ..
        } = &mut *state;
        for price in prices.values_mut() {
            // Ornstein-Uhlenbeck step: pulled back to the mean, shaken by volatility.
            let pull = 0.5 * (price.mean - price.current) * hours;
            let shake =
                settings.price_volatility * price.mean * hours.sqrt() * standard_normal(rng);
            let ceiling = (price.mean * 3.0).min(price.ceiling).max(price.mean);
            price.current = (price.current + pull + shake).clamp(price.mean * 0.3, ceiling);
        }

        let mut notices = Vec::new();
        for instance in instances.values_mut() {
            if instance.capacity_type != CapacityType::Spot
                || instance.state != InstanceState::Running
            {
                continue;
            }
            let bucket = self
                .catalog
                .advice(&instance.pool.region, &instance.pool.instance_type)
                .ok()
                .flatten()
                .map_or(4, |a| a.interruption_bucket.min(4));
            let monthly = MONTHLY_INTERRUPTION[bucket as usize];
            let hourly_rate = -(1.0 - monthly).ln() / HOURS_PER_MONTH;
            let chance = 1.0 - (-hourly_rate * hours * settings.speedup).exp();
            if rng.random::<f64>() < chance {
                instance.state = InstanceState::MarkedForInterruption;
                let action_at = now + NOTICE_SECONDS;
                reclaim_at.insert(instance.id.clone(), action_at);
                notices.push(Interruption {
                    instance_id: instance.id.clone(),
                    pool: instance.pool.clone(),
                    action_at,
                });
            }
        }
        let due: Vec<String> = reclaim_at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            reclaim_at.remove(&id);
            if let Some(instance) = instances.get_mut(&id) {
                instance.state = InstanceState::Terminated;
            }
        }
        notices
    }

    fn price_of(&self, state: &mut State, pool: &Pool) -> Option<f64> {
        if let Some(price) = state.prices.get(pool) {
            return Some(price.current);
        }
        let mean = self
            .catalog
            .estimated_spot_price(&pool.region, &pool.instance_type)
            .ok()
            .flatten()?;
        let ceiling = self
            .catalog
            .on_demand_price(&pool.instance_type)
            .ok()
            .flatten()
            .unwrap_or(f64::MAX);
        state.prices.insert(
            pool.clone(),
            PoolPrice {
                mean,
                current: mean,
                ceiling,
            },
        );
        Some(mean)
    }

    fn check_region(&self, region: &str) -> Result<(), CloudError> {
        self.catalog
            .check_region(region)
            .map_err(|e| CloudError::InvalidArgument {
                field: "region",
                reason: e.to_string(),
            })
    }
}

#[async_trait::async_trait]
impl CloudProvider for SimulatedCloud {
    async fn regions(&self) -> Result<Vec<String>, CloudError> {
        Ok(self.catalog.regions().to_vec())
    }

    async fn instance_types(&self, region: &str) -> Result<Vec<String>, CloudError> {
        self.check_region(region)?;
        Ok(self
            .catalog
            .types()
            .iter()
            .map(|t| t.name.clone())
            .collect())
    }

    async fn offerings(&self, region: &str) -> Result<Vec<Offering>, CloudError> {
        self.check_region(region)?;
        let mut cache = self.offerings.lock().unwrap_or_else(|p| p.into_inner());
        let offerings = cache.entry(region.to_owned()).or_insert_with(|| {
            let mut offerings = Vec::new();
            for zone in zones_of(region) {
                for instance_type in self.catalog.types() {
                    if self.offers(&zone, &instance_type.name) {
                        offerings.push(Offering {
                            zone: zone.clone(),
                            instance_type: instance_type.name.clone(),
                        });
                    }
                }
            }
            offerings
        });
        Ok(offerings.clone())
    }

    async fn spot_prices(&self, region: &str) -> Result<Vec<SpotPrice>, CloudError> {
        let offerings = self.offerings(region).await?;
        let mut state = self.state();
        let now = state.now;
        Ok(offerings
            .into_iter()
            .filter_map(|offering| {
                let pool = Pool {
                    region: region.to_owned(),
                    zone: offering.zone,
                    instance_type: offering.instance_type,
                };
                let usd_per_hour = self.price_of(&mut state, &pool)?;
                Some(SpotPrice {
                    pool,
                    usd_per_hour,
                    at: now,
                })
            })
            .collect())
    }

    async fn launch(&self, request: LaunchRequest) -> Result<LaunchResult, CloudError> {
        self.check_region(&request.region)?;
        if request.count == 0 {
            return Err(CloudError::InvalidArgument {
                field: "count",
                reason: "must be at least 1".into(),
            });
        }
        if request.pools.is_empty() {
            return Err(CloudError::InvalidArgument {
                field: "pools",
                reason: "name at least one pool".into(),
            });
        }
        for pool in &request.pools {
            if pool.region != request.region || !self.offers(&pool.zone, &pool.instance_type) {
                return Err(CloudError::InvalidArgument {
                    field: "pools",
                    reason: format!("{pool} is not offered in {}", request.region),
                });
            }
        }
        let mut state = self.state();
        if let Some(earlier) = request
            .client_token
            .as_ref()
            .and_then(|token| state.launched_by_token.get(token))
        {
            return Ok(earlier.clone());
        }
        let now = state.now;
        // In the request's order of preference: a pool only when the ones before it are short.
        let ranked: Vec<Pool> = request.pools.clone();

        let mut result = LaunchResult::default();
        let mut failed = BTreeSet::new();
        let mut remaining = request.count;
        for pool in ranked {
            if remaining == 0 {
                break;
            }
            let short = state
                .short_until
                .get(&pool)
                .is_some_and(|until| *until > now)
                || state.rng.random::<f64>() < self.settings.shortage_probability;
            if short {
                state
                    .short_until
                    .insert(pool.clone(), now + self.settings.shortage_seconds);
                if failed.insert(pool.clone()) {
                    result.failures.push(LaunchFailure {
                        pool: pool.clone(),
                        code: "InsufficientInstanceCapacity".into(),
                        message: format!(
                            "There is no {} capacity in {} right now",
                            pool.instance_type, pool.zone
                        ),
                    });
                }
                continue;
            }
            while remaining > 0 {
                let instance = new_instance(
                    &mut state.rng,
                    pool.clone(),
                    request.capacity_type,
                    request.tags.clone(),
                    now,
                );
                state
                    .instances
                    .insert(instance.id.clone(), instance.clone());
                result.instances.push(instance);
                remaining -= 1;
            }
        }
        if let Some(token) = request.client_token {
            state.launched_by_token.insert(token, result.clone());
        }
        Ok(result)
    }

    async fn terminate(&self, region: &str, instance_ids: &[String]) -> Result<(), CloudError> {
        self.check_region(region)?;
        let mut state = self.state();
        for id in instance_ids {
            let instance =
                state
                    .instances
                    .get_mut(id)
                    .ok_or_else(|| CloudError::InvalidArgument {
                        field: "instance_ids",
                        reason: format!("instance `{id}` does not exist"),
                    })?;
            instance.state = InstanceState::Terminated;
            state.reclaim_at.remove(id);
        }
        Ok(())
    }

    async fn instances_tagged(
        &self,
        region: &str,
        tag_key: &str,
    ) -> Result<Vec<Instance>, CloudError> {
        self.check_region(region)?;
        Ok(self
            .state()
            .instances
            .values()
            .filter(|i| i.pool.region == region && i.state != InstanceState::Terminated)
            .filter(|i| i.tags.contains_key(tag_key))
            .cloned()
            .collect())
    }

    /// The simulated world has no VPCs or images: a class that passes its own checks resolves to
    /// one subnet per zone of the region and one image per architecture.
    async fn resolve_node_class(
        &self,
        region: &str,
        cluster_name: &str,
        class: &NodeClass,
    ) -> Result<LaunchSpec, NodeClassError> {
        self.check_region(region)?;
        let errors = class.check();
        if !errors.is_empty() {
            return Err(NodeClassError::Invalid(errors));
        }
        let cluster = KubeCluster {
            name: cluster_name.to_owned(),
            endpoint: format!("https://{cluster_name}.{region}.simulated"),
            certificate_authority: "c2ltdWxhdGVk".to_owned(),
            service_cidr: "10.100.0.0/16".to_owned(),
            kubernetes_version: "1.31".to_owned(),
            vpc_id: "vpc-simulated".to_owned(),
        };
        let user_data = crate::user_data::compose(class.ami_family, &cluster, &class.user_data)
            .map_err(|reason| {
                NodeClassError::Invalid(vec![FieldError::new("user_data", reason)])
            })?;
        Ok(LaunchSpec {
            subnets: zones_of(region)
                .into_iter()
                .map(|zone| (zone.clone(), format!("subnet-{zone}")))
                .collect(),
            security_group_ids: vec!["sg-simulated".to_owned()],
            instance_profile_arn: format!(
                "arn:aws:iam::000000000000:instance-profile/{}",
                class.instance_profile
            ),
            images: [Architecture::Amd64, Architecture::Arm64]
                .into_iter()
                .map(|arch| (arch, format!("ami-simulated-{arch:?}").to_lowercase()))
                .collect(),
            user_data,
            root_device: class.ami_family.root_device().to_owned(),
            root_volume_gib: class.root_volume_gib,
            root_volume_type: class.root_volume_type.clone(),
            metadata_hop_limit: class.metadata_hop_limit,
            tags: class.tags.clone(),
        })
    }

    async fn import_node_class(
        &self,
        region: &str,
        cluster_name: &str,
    ) -> Result<NodeClass, NodeClassError> {
        self.check_region(region)?;
        Ok(NodeClass::discovery_default(
            cluster_name,
            &format!("{cluster_name}-node"),
        ))
    }
}

fn new_instance(
    rng: &mut ChaCha8Rng,
    pool: Pool,
    capacity_type: CapacityType,
    tags: BTreeMap<String, String>,
    now: i64,
) -> Instance {
    Instance {
        id: format!("i-{:017x}", rng.random::<u64>() & 0x0fff_ffff_ffff_ffff),
        pool,
        capacity_type,
        state: InstanceState::Running,
        tags,
        launched_at: now,
    }
}

/// Box-Muller: one standard normal draw from two uniforms.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// FNV-1a: a stable hash (unlike std's, it does not change between runs).
fn stable_hash(zone: &str, instance_type: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in zone.bytes().chain([b'/']).chain(instance_type.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
