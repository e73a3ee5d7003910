//! Karpenter's scheduling benchmark shape: 400 synthetic instance types where type i (0-based)
//! has i+1 vCPU, 2(i+1) GiB and 10(i+1) pod slots, priced 0.1 USD per vCPU plus 0.1 per GiB per
//! hour on-demand, with 100m cpu and 10Mi of overhead. Spot is offered in 2 zones, on-demand in 3;
//! spot costs a fixed [`SPOT_FRACTION`] of on-demand (the benchmark has no spot prices, so we
//! pick a typical 60% discount and document it). Pods come in five equal fifths: unconstrained,
//! zone topology spread (max skew 1), hostname topology spread (max skew 1), zone pod affinity to
//! itself, and hostname anti-affinity to itself (so one per node).

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{
    Architecture, CapacityType, Offering, Pod, PodAffinityTerm, Policy, Problem, Resources,
    TopologyKey, TopologySpread,
};

/// Spot price as a fraction of the on-demand price.
pub const SPOT_FRACTION: f64 = 0.4;
const TYPES: usize = 400;
const ZONES: [&str; 3] = ["test-zone-a", "test-zone-b", "test-zone-c"];
const SPOT_ZONES: usize = 2;
const CPU_CHOICES_M: [i64; 5] = [100, 250, 500, 1000, 1500];
const MEMORY_CHOICES_MIB: [i64; 6] = [100, 256, 512, 1024, 2048, 4096];

pub fn karpenter(pods: usize, seed: u64) -> Problem {
    Problem {
        offerings: offerings(),
        pods: pod_mix(pods, seed),
        policy: Policy::default(),
        risk_flags: Vec::new(),
        existing_nodes: Vec::new(),
    }
}

fn offerings() -> Vec<Offering> {
    let mut offerings = Vec::with_capacity(TYPES * 5);
    for i in 0..TYPES {
        let vcpu = (i + 1) as i64;
        let memory_gib = 2 * vcpu;
        let on_demand = 0.1 * vcpu as f64 + 0.1 * memory_gib as f64;
        let allocatable = Resources::new(vcpu * 1000 - 100, memory_gib * 1024 - 10, 10 * vcpu, 0);
        for (z, zone) in ZONES.iter().enumerate() {
            for capacity_type in [CapacityType::Spot, CapacityType::OnDemand] {
                if capacity_type == CapacityType::Spot && z >= SPOT_ZONES {
                    continue;
                }
                offerings.push(Offering {
                    instance_type: format!("fake-it-{}", i + 1),
                    zone: (*zone).to_owned(),
                    capacity_type,
                    price_per_hour: match capacity_type {
                        CapacityType::Spot => on_demand * SPOT_FRACTION,
                        CapacityType::OnDemand => on_demand,
                    },
                    on_demand_price_per_hour: on_demand,
                    vcpus: vcpu as u32,
                    architecture: Architecture::Amd64,
                    allocatable,
                    labels: BTreeMap::new(),
                    taints: Vec::new(),
                    interruption_bucket: Some(0),
                });
            }
        }
    }
    offerings
}

fn pod_mix(count: usize, seed: u64) -> Vec<Pod> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let fifth = i * 5 / count.max(1);
            let cpu = CPU_CHOICES_M[rng.random_range(0..CPU_CHOICES_M.len())];
            let memory = MEMORY_CHOICES_MIB[rng.random_range(0..MEMORY_CHOICES_MIB.len())];
            let app = [
                "plain",
                "zone-spread",
                "host-spread",
                "zone-affinity",
                "anti",
            ][fifth.min(4)];
            let labels = BTreeMap::from([("app".to_owned(), app.to_owned())]);
            let mut pod = Pod {
                id: format!("{app}-{i}"),
                requests: Resources::new(cpu, memory, 1, 0),
                labels: labels.clone(),
                ..Pod::default()
            };
            match fifth {
                1 => pod.topology_spread.push(TopologySpread {
                    topology_key: TopologyKey::Zone,
                    max_skew: 1,
                    match_labels: labels,
                }),
                2 => pod.topology_spread.push(TopologySpread {
                    topology_key: TopologyKey::Hostname,
                    max_skew: 1,
                    match_labels: labels,
                }),
                3 => pod.affinity.push(PodAffinityTerm {
                    topology_key: TopologyKey::Zone,
                    match_labels: labels,
                }),
                4 => pod.anti_affinity.push(PodAffinityTerm {
                    topology_key: TopologyKey::Hostname,
                    match_labels: labels,
                }),
                _ => {}
            }
            pod
        })
        .collect()
}
