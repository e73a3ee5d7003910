//! The lower bound against the true optimum on tiny problems: every way to split the pods into
//! nodes and give each node an offering is enumerated, the independent validator keeps the valid
//! ones, and the cheapest of those must cost at least the solver's reported bound.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spot_engine::*;

fn tiny_problem(seed: u64) -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut offerings = Vec::new();
    let types = rng.random_range(1..3);
    for t in 0..types {
        let vcpu = [1i64, 2, 4][rng.random_range(0..3)];
        let ratio = [1i64, 2, 4][rng.random_range(0..3)];
        let on_demand = 0.05 * vcpu as f64 * (1.0 + ratio as f64 / 4.0);
        for zone in ["z-a", "z-b"] {
            for capacity_type in [CapacityType::Spot, CapacityType::OnDemand] {
                if offerings.len() >= 6 || rng.random_bool(0.3) {
                    continue;
                }
                offerings.push(Offering {
                    instance_type: format!("t{t}"),
                    zone: zone.into(),
                    capacity_type,
                    price_per_hour: match capacity_type {
                        CapacityType::Spot => on_demand * rng.random_range(0.3..0.9),
                        CapacityType::OnDemand => on_demand,
                    },
                    on_demand_price_per_hour: on_demand,
                    vcpus: vcpu as u32,
                    architecture: Architecture::Amd64,
                    allocatable: Resources::new(vcpu * 1000, vcpu * ratio * 1024, 3, 0),
                    labels: BTreeMap::new(),
                    taints: Vec::new(),
                    interruption_bucket: Some(0),
                });
            }
        }
    }
    let count = rng.random_range(1..5);
    let mut pods = Vec::new();
    for i in 0..count {
        let app = if rng.random_bool(0.5) { "a" } else { "b" };
        let labels = BTreeMap::from([("app".to_owned(), app.to_owned())]);
        let mut pod = Pod {
            id: format!("p{i}"),
            requests: Resources::new(
                [250, 500, 1000, 1500][rng.random_range(0..4)],
                [256, 1024, 2048, 3072][rng.random_range(0..4)],
                1,
                0,
            ),
            labels: labels.clone(),
            ..Pod::default()
        };
        match (app, seed % 3) {
            ("a", 0) => pod.anti_affinity.push(PodAffinityTerm {
                topology_key: TopologyKey::Hostname,
                match_labels: labels,
            }),
            ("a", 1) => pod.topology_spread.push(TopologySpread {
                topology_key: TopologyKey::Zone,
                max_skew: 1,
                match_labels: labels,
            }),
            _ => {}
        }
        pods.push(pod);
    }
    let policy = if rng.random_bool(0.3) {
        Policy {
            spot_share_percent: 50,
            ..Policy::default()
        }
    } else {
        Policy::default()
    };
    Problem {
        offerings,
        pods,
        policy,
        ..Problem::default()
    }
}

/// The cheapest valid solution placing every pod, by exhaustive search.
fn optimum(problem: &Problem) -> Option<f64> {
    let n = problem.pods.len();
    let mut best: Option<f64> = None;
    // Set partitions as restricted growth strings.
    let mut block = vec![0usize; n];
    loop {
        let blocks = block.iter().copied().max().map_or(0, |m| m + 1);
        let o = problem.offerings.len();
        let mut choice = vec![0usize; blocks];
        'choices: loop {
            let nodes: Vec<Node> = (0..blocks)
                .map(|b| {
                    let offering = &problem.offerings[choice[b]];
                    Node {
                        name: format!("n{b}"),
                        offering: choice[b],
                        instance_type: offering.instance_type.clone(),
                        zone: offering.zone.clone(),
                        capacity_type: offering.capacity_type,
                        price_per_hour: offering.price_per_hour,
                        pods: (0..n).filter(|&p| block[p] == b).collect(),
                    }
                })
                .collect();
            let cost: f64 = nodes.iter().map(|n| n.price_per_hour).sum();
            if best.is_none_or(|b| cost < b) {
                let solution = Solution {
                    strategy: "brute".into(),
                    nodes,
                    cost_per_hour: cost,
                    ..Solution::default()
                };
                if validate(problem, &solution).is_empty() {
                    best = Some(cost);
                }
            }
            for c in choice.iter_mut() {
                *c += 1;
                if *c < o {
                    continue 'choices;
                }
                *c = 0;
            }
            break;
        }
        // Next restricted growth string.
        let mut i = n;
        loop {
            if i <= 1 {
                return best;
            }
            i -= 1;
            let max_before = block[..i].iter().copied().max().unwrap_or(0);
            if block[i] <= max_before {
                block[i] += 1;
                for b in block.iter_mut().skip(i + 1) {
                    *b = 0;
                }
                break;
            }
        }
    }
}

#[test]
fn the_bound_never_exceeds_the_true_optimum_on_tiny_problems() {
    let mut compared = 0;
    for seed in 0..400 {
        let problem = tiny_problem(seed);
        if problem.offerings.is_empty() {
            continue;
        }
        let Some(best) = optimum(&problem) else {
            continue;
        };
        let solution = solve(&problem);
        assert!(
            solution.lower_bound_per_hour <= best * (1.0 + 1e-9) + 1e-12,
            "seed {seed}: bound {} above the optimum {best}\n{problem:#?}",
            solution.lower_bound_per_hour
        );
        compared += 1;
    }
    assert!(compared > 150, "only {compared} problems compared");
}

#[test]
fn the_configuration_bound_never_exceeds_the_true_optimum_on_tiny_problems() {
    let mut compared = 0;
    for seed in 0..400 {
        let problem = tiny_problem(seed);
        if problem.offerings.is_empty() {
            continue;
        }
        let Some(best) = optimum(&problem) else {
            continue;
        };
        let solution = solve(&problem);
        let bound = lower_bound::configuration_bound(&problem, &solution);
        assert!(
            bound <= best * (1.0 + 1e-9) + 1e-12,
            "seed {seed}: configuration bound {bound} above the optimum {best}\n{problem:#?}"
        );
        compared += 1;
    }
    assert!(compared > 150, "only {compared} problems compared");
}

/// Nodes of 64 cores, 256 GiB and 250 pod slots, and pods that fill `nodes` of them exactly in
/// cpu: large pods (few fit a node, so the configuration bound branches on them) and small ones
/// (many fit, so it bounds them by their LP relaxation on the room left). A half-size type costs
/// more per core, so no solution beats `nodes` big nodes: the optimum is known without search.
fn exactly_filled(seed: u64) -> (Problem, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let price = rng.random_range(0.5..2.0);
    let mut offerings = Vec::new();
    for (name, scale, price) in [("big", 2, price), ("half", 1, price * 0.55)] {
        for zone in ["z-a", "z-b"] {
            offerings.push(Offering {
                instance_type: name.into(),
                zone: zone.into(),
                capacity_type: CapacityType::OnDemand,
                price_per_hour: price,
                on_demand_price_per_hour: price,
                vcpus: 32 * scale as u32,
                architecture: Architecture::Amd64,
                allocatable: Resources::new(32_000 * scale, 131_072 * scale, 125 * scale, 0),
                labels: BTreeMap::new(),
                taints: Vec::new(),
                interruption_bucket: None,
            });
        }
    }
    let nodes = rng.random_range(2..6);
    let mut pods = Vec::new();
    let mut add = |cpu_m: i64, memory_mib: i64| {
        pods.push(Pod {
            id: format!("p{}", pods.len()),
            requests: Resources::new(cpu_m, memory_mib, 1, 0),
            ..Pod::default()
        });
    };
    for _ in 0..nodes {
        let mut cpu = 0;
        while cpu < 16_000 || (cpu < 48_000 && rng.random_bool(0.6)) {
            let (c, m) =
                [(4_000, 16_384), (8_000, 32_768), (16_000, 65_536)][rng.random_range(0..3)];
            if cpu + c > 48_000 {
                break;
            }
            add(c, m);
            cpu += c;
        }
        while cpu + 1_000 <= 64_000 && rng.random_bool(0.5) {
            add(1_000, 1_024);
            cpu += 1_000;
        }
        while cpu < 64_000 {
            add(250, 256);
            cpu += 250;
        }
    }
    let problem = Problem {
        offerings,
        pods,
        ..Problem::default()
    };
    (problem, nodes as f64 * price)
}

#[test]
fn the_bounds_never_exceed_a_known_optimum_on_large_nodes_of_large_and_small_pods() {
    for seed in 0..24 {
        let (problem, best) = exactly_filled(seed);
        let solution = solve(&problem);
        let configuration = lower_bound::configuration_bound(&problem, &solution);
        for (name, bound) in [
            ("reported", solution.lower_bound_per_hour),
            ("configuration", configuration),
        ] {
            assert!(
                bound <= best * (1.0 + 1e-9),
                "seed {seed}: {name} bound {bound} above the optimum {best}"
            );
        }
        // The proof bounds the small pods on the room the large ones leave, so it stays close.
        assert!(
            configuration >= best * 0.98,
            "seed {seed}: configuration bound {configuration} far below the optimum {best}"
        );
    }
}
