//! Seeded property tests over random problems: every solution is valid (the independent
//! validator finds nothing), every pod is placed or explained, cost is at least the lower bound,
//! and plans respect ordering and the disruption budget.

mod common;

use common::{existing_from, random_problem};
use spot_engine::strategy;
use spot_engine::*;

const CASES: u64 = 1000;

#[test]
fn every_strategy_gives_valid_solutions_on_random_problems() {
    for seed in 0..CASES {
        let problem = random_problem(seed);
        for strategy in strategy::all() {
            let solution = strategy.solve(&problem);
            let violations = validate(&problem, &solution);
            // A policy the admitted offerings cannot meet is reported in the notes; the validator
            // then names the same shortfall. Anything else is a bug.
            let unexplained: Vec<_> = violations
                .iter()
                .filter(|v| v.rule != "policy" || solution.notes.is_empty())
                .collect();
            assert!(
                unexplained.is_empty(),
                "seed {seed} {}: {unexplained:#?}\nnotes {:?}",
                strategy.name(),
                solution.notes
            );
            assert!(
                solution.cost_per_hour + 1e-6 >= solution.lower_bound_per_hour,
                "seed {seed}: cost below bound"
            );
            assert_eq!(
                solution.nodes.iter().map(|n| n.pods.len()).sum::<usize>()
                    + solution.unschedulable.len(),
                problem.pods.len(),
                "seed {seed}: every pod placed or explained"
            );
            assert!(solution.unschedulable.iter().all(|u| !u.reason.is_empty()));
        }
    }
}

#[test]
fn the_lp_guided_strategy_validates_and_never_loses_to_the_plain_packer_on_random_problems() {
    let guided = strategy::by_name("lp-guided-ffd").unwrap();
    let plain = strategy::by_name("cost-aware-ffd").unwrap();
    for seed in 0..CASES {
        let problem = random_problem(seed);
        let solution = guided.solve(&problem);
        let violations = validate(&problem, &solution);
        let unexplained: Vec<_> = violations
            .iter()
            .filter(|v| v.rule != "policy" || solution.notes.is_empty())
            .collect();
        assert!(unexplained.is_empty(), "seed {seed}: {unexplained:#?}");
        let baseline = plain.solve(&problem);
        let key = |s: &Solution| (s.unschedulable.len(), s.notes.len());
        assert!(
            key(&solution) <= key(&baseline),
            "seed {seed}: worse placement"
        );
        if key(&solution) == key(&baseline) {
            assert!(
                solution.cost_per_hour <= baseline.cost_per_hour + 1e-9,
                "seed {seed}: {} above the plain packer's {}",
                solution.cost_per_hour,
                baseline.cost_per_hour
            );
        }
        assert!(solution.cost_per_hour + 1e-6 >= solution.lower_bound_per_hour);
    }
}

#[test]
fn the_live_strategy_places_most_pods_when_the_catalog_allows() {
    let mut placed = 0;
    let mut total = 0;
    for seed in 0..CASES {
        let problem = random_problem(seed);
        let solution = solve(&problem);
        placed += solution.nodes.iter().map(|n| n.pods.len()).sum::<usize>();
        total += problem.pods.len();
    }
    assert!(placed * 2 > total, "placed {placed} of {total}");
}

#[test]
fn plans_launch_and_wait_before_any_disruption_and_respect_the_budget() {
    for seed in 0..CASES / 3 {
        let problem = random_problem(seed);
        let before = solve(&problem);
        let current = existing_from(&before, &problem);
        // A different target: the naive strategy's.
        let target = strategy::by_name("cheapest-per-pod")
            .unwrap()
            .solve(&problem);
        for budget in [
            DisruptionBudget::nodes(1),
            DisruptionBudget::nodes(3),
            DisruptionBudget::percent(25),
        ] {
            let plan = plan(&current, &target, budget);
            check_plan(&plan, budget.batch_size(current.len()), seed);
            assert!(
                (plan.savings_per_month - plan.savings_per_hour * HOURS_PER_MONTH).abs() < 1e-6
            );
        }
    }
}

pub fn check_plan(plan: &Plan, batch_size: usize, seed: u64) {
    let first_disruption = plan.steps.iter().position(|s| {
        matches!(
            s.action,
            StepAction::Cordon { .. } | StepAction::Drain { .. } | StepAction::Terminate { .. }
        )
    });
    if let Some(first) = first_disruption {
        assert!(
            plan.steps[first..].iter().all(|s| !matches!(
                s.action,
                StepAction::Launch { .. } | StepAction::WaitReady { .. }
            )),
            "seed {seed}: a launch after a disruption"
        );
        let launches = plan
            .steps
            .iter()
            .any(|s| matches!(s.action, StepAction::Launch { .. }));
        if launches {
            assert!(
                matches!(plan.steps[first - 1].action, StepAction::WaitReady { .. }),
                "seed {seed}: no wait before disruption"
            );
        }
    }
    // Cordoned-but-not-terminated nodes at any time never exceed the batch size.
    let mut in_flight = std::collections::HashSet::new();
    for step in &plan.steps {
        match &step.action {
            StepAction::Cordon { node } => {
                in_flight.insert(node.clone());
            }
            StepAction::Drain { node } => {
                assert!(in_flight.contains(node), "seed {seed}: drain before cordon")
            }
            StepAction::Terminate { node } => {
                in_flight.remove(node);
            }
            _ => {}
        }
        assert!(
            in_flight.len() <= batch_size,
            "seed {seed}: {} nodes disrupted at once, budget {batch_size}",
            in_flight.len()
        );
        assert!(!step.explanation.is_empty());
    }
}

#[test]
fn karpenter_and_catalog_scenarios_are_valid_at_small_sizes() {
    for (name, pods) in [("karpenter", 500), ("catalog", 600)] {
        let problem = scenarios::by_name(name, pods, 7).unwrap();
        let solution = solve(&problem);
        assert_eq!(validate(&problem, &solution), vec![], "{name}");
        assert!(
            solution.unschedulable.is_empty(),
            "{name}: {:?}",
            solution.unschedulable.first()
        );
        assert!(solution.lower_bound_per_hour > 0.0);
        assert!(solution.cost_per_hour >= solution.lower_bound_per_hour);
    }
}

#[test]
fn bench_report_is_one_json_object_and_the_dump_has_the_documented_shape() {
    let dir = std::env::temp_dir().join(format!("spot-engine-dump-{}", std::process::id()));
    let report = bench_report("karpenter", 200, 3, Some(&dir)).unwrap();
    for key in [
        "scenario",
        "pods",
        "solve_ms",
        "pods_per_sec",
        "nodes",
        "cost_per_hour",
        "on_demand_cost_per_hour",
        "lower_bound_per_hour",
        "unschedulable",
        "violations",
    ] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    assert_eq!(report["violations"], 0);
    let dump: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dir).unwrap()).unwrap();
    std::fs::remove_file(&dir).ok();
    let offering = &dump["offerings"][0];
    for key in [
        "instance_type",
        "zone",
        "capacity_type",
        "price_per_hour",
        "cpu_m",
        "memory_mib",
        "pods",
    ] {
        assert!(offering.get(key).is_some(), "offering lacks {key}");
    }
    let pod = &dump["pods"][0];
    for key in [
        "id",
        "cpu_m",
        "memory_mib",
        "labels",
        "topology_spread",
        "affinity",
        "anti_affinity",
    ] {
        assert!(pod.get(key).is_some(), "pod lacks {key}");
    }
    let node = &dump["nodes"][0];
    for key in [
        "name",
        "instance_type",
        "zone",
        "capacity_type",
        "price_per_hour",
        "pods",
    ] {
        assert!(node.get(key).is_some(), "node lacks {key}");
    }
    assert!(dump["unschedulable"].is_array());
    assert!(bench_report("nope", 10, 1, None).is_err());
}

#[test]
fn the_configuration_bound_never_exceeds_the_live_cost_on_random_problems() {
    for seed in 0..CASES {
        let problem = random_problem(seed);
        let solution = solve(&problem);
        let bound = lower_bound::configuration_bound(&problem, &solution);
        assert!(
            bound <= solution.cost_per_hour * (1.0 + 1e-9) + 1e-9,
            "seed {seed}: configuration bound {bound} above the cost {}",
            solution.cost_per_hour
        );
    }
}

#[test]
fn safe_plans_strand_no_pod_the_target_can_place_and_keep_the_plan_order() {
    for seed in 0..CASES / 10 {
        let problem = random_problem(seed);
        let before = solve(&problem);
        let mut problem = problem.clone();
        problem.existing_nodes = existing_from(&before, &problem);
        let target = strategy::by_name("cheapest-per-pod")
            .unwrap()
            .solve(&problem);
        let budget = DisruptionBudget::nodes(2);
        let safe = carry_out_safely(&problem, &target, budget);
        check_plan(
            &safe.plan,
            budget.batch_size(problem.existing_nodes.len()),
            seed,
        );
        let unplaceable: Vec<&str> = target.unschedulable.iter().map(|u| u.id.as_str()).collect();
        let replayed = replay(&problem, &safe.plan.steps);
        for stranded in &replayed.stranded {
            assert!(
                unplaceable.contains(&stranded.pod.as_str()),
                "seed {seed}: {stranded:?} is stranded although the target places it"
            );
        }
        assert_eq!(replayed.stranded, safe.lost, "seed {seed}");
        let kept_cost: f64 = problem
            .existing_nodes
            .iter()
            .filter(|n| safe.kept.contains(&n.name))
            .map(|n| n.price_per_hour)
            .sum();
        assert!(
            (safe.plan.target_cost_per_hour
                - target.cost_per_hour
                - kept_cost
                - safe.added_cost_per_hour)
                .abs()
                < 1e-9,
            "seed {seed}: kept and added nodes are paid for"
        );
    }
}
