//! Random problems for the property tests: small catalogs with taints, labels and two
//! architectures, pods with every kind of constraint, random policies and risk flags.

#![allow(dead_code)]

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spot_engine::*;

pub fn random_problem(seed: u64) -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let zones = ["z-a", "z-b", "z-c"];
    let mut offerings = Vec::new();
    let types = rng.random_range(1..12);
    for t in 0..types {
        let vcpu = [1u32, 2, 4, 8, 16, 32][rng.random_range(0..6)];
        let ratio = [2i64, 4, 8][rng.random_range(0..3)];
        let arch = if rng.random_bool(0.3) {
            Architecture::Arm64
        } else {
            Architecture::Amd64
        };
        let gpus = if rng.random_bool(0.15) {
            rng.random_range(1..3)
        } else {
            0
        };
        let on_demand = 0.05 * f64::from(vcpu) * (1.0 + ratio as f64 / 8.0) + gpus as f64 * 0.5;
        let tainted = gpus > 0 && rng.random_bool(0.7);
        for zone in zones {
            if rng.random_bool(0.15) {
                continue;
            }
            for capacity_type in [CapacityType::Spot, CapacityType::OnDemand] {
                if capacity_type == CapacityType::Spot && rng.random_bool(0.2) {
                    continue;
                }
                let price = match capacity_type {
                    CapacityType::Spot => on_demand * rng.random_range(0.25..0.7),
                    CapacityType::OnDemand => on_demand,
                };
                offerings.push(Offering {
                    instance_type: format!("t{t}.{vcpu}x"),
                    zone: zone.into(),
                    capacity_type,
                    price_per_hour: price,
                    on_demand_price_per_hour: on_demand,
                    vcpus: vcpu,
                    architecture: arch,
                    allocatable: Resources::new(
                        i64::from(vcpu) * 1000 - 80,
                        i64::from(vcpu) * ratio * 1024 - 300,
                        8 * i64::from(vcpu) + 2,
                        gpus,
                    ),
                    labels: BTreeMap::from([("family".into(), format!("f{}", t % 3))]),
                    taints: if tainted {
                        vec![Taint {
                            key: "gpu".into(),
                            value: "true".into(),
                            effect: TaintEffect::NoSchedule,
                        }]
                    } else {
                        Vec::new()
                    },
                    interruption_bucket: Some(rng.random_range(0..5)),
                });
            }
        }
    }
    let mut pods = Vec::new();
    let deployments = rng.random_range(1..8);
    for d in 0..deployments {
        let replicas = rng.random_range(1..40);
        let cpu = [50i64, 100, 250, 500, 1000, 2000, 4000][rng.random_range(0..7)];
        let memory = [64i64, 128, 512, 1024, 4096, 8192][rng.random_range(0..6)];
        let labels = BTreeMap::from([("app".to_owned(), format!("d{d}"))]);
        let mut template = Pod {
            id: String::new(),
            requests: Resources::new(cpu, memory, 1, if rng.random_bool(0.1) { 1 } else { 0 }),
            labels: labels.clone(),
            ..Pod::default()
        };
        if template.requests.gpus > 0 || rng.random_bool(0.1) {
            template.tolerations.push(Toleration {
                key: "gpu".into(),
                operator: TolerationOperator::Exists,
                value: String::new(),
                effect: None,
            });
        }
        if rng.random_bool(0.15) {
            template
                .node_selector
                .insert("kubernetes.io/arch".into(), "arm64".into());
        }
        if rng.random_bool(0.15) {
            let op = [
                Operator::In,
                Operator::NotIn,
                Operator::Exists,
                Operator::DoesNotExist,
            ][rng.random_range(0..4)];
            template.required_node_affinity.push(NodeSelectorTerm {
                requirements: vec![Requirement {
                    key: "topology.kubernetes.io/zone".into(),
                    operator: op,
                    values: vec![zones[rng.random_range(0..3)].into()],
                }],
            });
        }
        if rng.random_bool(0.1) {
            template.required_node_affinity.push(NodeSelectorTerm {
                requirements: vec![Requirement {
                    key: "karpenter.sh/capacity-type".into(),
                    operator: Operator::In,
                    values: vec!["on-demand".into()],
                }],
            });
        }
        let key = |rng: &mut ChaCha8Rng| {
            if rng.random_bool(0.5) {
                TopologyKey::Zone
            } else {
                TopologyKey::Hostname
            }
        };
        match rng.random_range(0..7) {
            0 => template.topology_spread.push(TopologySpread {
                topology_key: key(&mut rng),
                max_skew: rng.random_range(1..3),
                match_labels: labels.clone(),
            }),
            1 => template.anti_affinity.push(PodAffinityTerm {
                topology_key: TopologyKey::Hostname,
                match_labels: labels.clone(),
            }),
            2 => template.affinity.push(PodAffinityTerm {
                topology_key: key(&mut rng),
                match_labels: labels.clone(),
            }),
            3 => template.affinity.push(PodAffinityTerm {
                topology_key: TopologyKey::Zone,
                match_labels: BTreeMap::from([("app".to_owned(), "d0".to_owned())]),
            }),
            4 => template.anti_affinity.push(PodAffinityTerm {
                topology_key: TopologyKey::Zone,
                match_labels: labels.clone(),
            }),
            _ => {}
        }
        for r in 0..replicas {
            let mut pod = template.clone();
            pod.id = format!("d{d}-{r}");
            pods.push(pod);
        }
    }
    let mut policy = Policy::default();
    if rng.random_bool(0.4) {
        policy.on_demand_base = rng.random_range(0..3);
    }
    if rng.random_bool(0.4) {
        policy.spot_share_percent = [50u8, 70, 80, 100][rng.random_range(0..4)];
    }
    if rng.random_bool(0.4) {
        policy.max_interruption_bucket = Some(rng.random_range(0..5));
    }
    if rng.random_bool(0.4) {
        policy.min_spot_pools = rng.random_range(0..4);
    }
    if rng.random_bool(0.2) {
        policy.max_price_per_vcpu_hour = Some(rng.random_range(0.02..0.2));
    }
    let mut risk_flags = Vec::new();
    if rng.random_bool(0.3) && !offerings.is_empty() {
        let o = &offerings[rng.random_range(0..offerings.len())];
        risk_flags.push(o.pool());
    }
    Problem {
        offerings,
        pods,
        policy,
        risk_flags,
        existing_nodes: Vec::new(),
    }
}

pub fn existing_from(solution: &Solution, problem: &Problem) -> Vec<ExistingNode> {
    solution
        .nodes
        .iter()
        .map(|n| ExistingNode {
            name: format!("old-{}", n.name),
            instance_type: n.instance_type.clone(),
            zone: n.zone.clone(),
            capacity_type: n.capacity_type,
            price_per_hour: n.price_per_hour,
            pods: n.pods.iter().map(|&p| problem.pods[p].id.clone()).collect(),
            allocatable: None,
            labels: Default::default(),
            taints: Vec::new(),
            cordoned: false,
            do_not_disrupt: None,
            settling: false,
        })
        .collect()
}
