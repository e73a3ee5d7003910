//! Named situations with the exact behaviour a user sees: reasons for unplaceable pods, policy
//! edge cases, plan ordering for interruptions, consolidation thresholds.

use std::collections::BTreeMap;

use spot_engine::*;

fn offering(
    name: &str,
    zone: &str,
    capacity_type: CapacityType,
    vcpu: u32,
    memory_gib: i64,
    price: f64,
) -> Offering {
    Offering {
        instance_type: name.into(),
        zone: zone.into(),
        capacity_type,
        price_per_hour: price,
        on_demand_price_per_hour: if capacity_type == CapacityType::OnDemand {
            price
        } else {
            price * 2.5
        },
        vcpus: vcpu,
        architecture: Architecture::Amd64,
        allocatable: Resources::new(i64::from(vcpu) * 1000, memory_gib * 1024, 110, 0),
        labels: BTreeMap::new(),
        taints: Vec::new(),
        interruption_bucket: Some(1),
    }
}

fn small_catalog() -> Vec<Offering> {
    let mut out = Vec::new();
    for zone in ["z-a", "z-b"] {
        for (name, vcpu, mem, price) in [
            ("m.large", 2, 8, 0.1),
            ("m.xlarge", 4, 16, 0.2),
            ("m.16xlarge", 64, 256, 3.2),
        ] {
            out.push(offering(
                name,
                zone,
                CapacityType::OnDemand,
                vcpu,
                mem,
                price,
            ));
            out.push(offering(
                name,
                zone,
                CapacityType::Spot,
                vcpu,
                mem,
                price * 0.4,
            ));
        }
    }
    out
}

fn pod(id: &str, cpu_m: i64, memory_mib: i64) -> Pod {
    Pod {
        id: id.into(),
        requests: Resources::new(cpu_m, memory_mib, 1, 0),
        labels: BTreeMap::from([("app".to_owned(), "web".to_owned())]),
        ..Pod::default()
    }
}

fn problem(pods: Vec<Pod>) -> Problem {
    Problem {
        offerings: small_catalog(),
        pods,
        ..Problem::default()
    }
}

#[test]
fn an_oversize_pod_is_reported_with_the_largest_allowance() {
    let p = problem(vec![pod("huge", 96_000, 1024), pod("ok", 500, 512)]);
    let s = solve(&p);
    assert_eq!(s.unschedulable.len(), 1);
    assert_eq!(s.unschedulable[0].id, "huge");
    assert_eq!(
        s.unschedulable[0].reason,
        "needs 96000m cpu but the largest admitted instance type allows 64000m"
    );
    assert_eq!(s.nodes.len(), 1);
    assert!(validate(&p, &s).is_empty());
}

#[test]
fn contradictory_constraints_are_named() {
    let mut bad = pod("bad", 100, 128);
    bad.node_selector
        .insert("kubernetes.io/arch".into(), "amd64".into());
    bad.required_node_affinity.push(NodeSelectorTerm {
        requirements: vec![Requirement {
            key: "kubernetes.io/arch".into(),
            operator: Operator::NotIn,
            values: vec!["amd64".into()],
        }],
    });
    let s = solve(&problem(vec![bad]));
    assert!(s.nodes.is_empty());
    assert!(
        s.unschedulable[0].reason.contains("required node affinity"),
        "{}",
        s.unschedulable[0].reason
    );

    let mut arm = pod("arm", 100, 128);
    arm.node_selector
        .insert("kubernetes.io/arch".into(), "arm64".into());
    let s = solve(&problem(vec![arm]));
    assert_eq!(
        s.unschedulable[0].reason,
        "no admitted offering has the label kubernetes.io/arch=arm64 its node selector asks for"
    );
}

#[test]
fn a_policy_admitting_nothing_says_so() {
    let mut p = problem(vec![pod("a", 100, 128)]);
    p.policy.max_price_per_vcpu_hour = Some(0.0001);
    let s = solve(&p);
    assert!(s.nodes.is_empty());
    assert!(
        s.unschedulable[0]
            .reason
            .starts_with("policy admits no instance type"),
        "{}",
        s.unschedulable[0].reason
    );
    assert!(
        s.unschedulable[0]
            .reason
            .contains("price per vCPU-hour above the policy's cap")
    );
}

#[test]
fn an_empty_catalog_says_so() {
    let p = Problem {
        pods: vec![pod("a", 100, 128)],
        ..Problem::default()
    };
    let s = solve(&p);
    assert_eq!(
        s.unschedulable[0].reason,
        "empty catalog: no offerings were given"
    );
    assert_eq!(s.cost_per_hour, 0.0);
    let nothing = solve(&Problem::default());
    assert!(nothing.nodes.is_empty() && nothing.unschedulable.is_empty());
}

#[test]
fn untolerated_taints_are_named() {
    let mut p = problem(vec![pod("a", 100, 128)]);
    for o in &mut p.offerings {
        o.taints.push(Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: TaintEffect::NoSchedule,
        });
    }
    let s = solve(&p);
    assert!(
        s.unschedulable[0]
            .reason
            .starts_with("no admitted offering tolerates"),
        "{}",
        s.unschedulable[0].reason
    );
    assert!(
        s.unschedulable[0]
            .reason
            .contains("dedicated=gpu:NoSchedule")
    );
}

#[test]
fn flagged_pools_and_high_buckets_are_never_used_for_spot() {
    let pods: Vec<Pod> = (0..40).map(|i| pod(&format!("p{i}"), 500, 1024)).collect();
    let mut p = problem(pods);
    let first = solve(&p);
    let used = first.nodes[0].pool();
    p.risk_flags.push(used.clone());
    let second = solve(&p);
    assert!(
        second
            .nodes
            .iter()
            .all(|n| !(n.capacity_type == CapacityType::Spot && n.pool() == used))
    );
    assert!(validate(&p, &second).is_empty());
    for o in &mut p.offerings {
        o.interruption_bucket = Some(4);
    }
    p.policy.max_interruption_bucket = Some(2);
    let third = solve(&p);
    assert!(
        third
            .nodes
            .iter()
            .all(|n| n.capacity_type == CapacityType::OnDemand)
    );
}

#[test]
fn on_demand_base_spot_share_and_pool_spread_hold() {
    let pods: Vec<Pod> = (0..300)
        .map(|i| pod(&format!("p{i}"), 250 + (i % 4) * 250, 512))
        .collect();
    let mut p = problem(pods);
    p.policy.on_demand_base = 2;
    p.policy.spot_share_percent = 70;
    p.policy.min_spot_pools = 3;
    let s = solve(&p);
    assert!(validate(&p, &s).is_empty(), "{:?}", validate(&p, &s));
    let on_demand = s.nodes.len() - s.spot_nodes();
    assert!(on_demand >= 2 && on_demand * 100 >= s.nodes.len() * 30);
    let pools: std::collections::HashSet<_> = s
        .nodes
        .iter()
        .filter(|n| n.capacity_type == CapacityType::Spot)
        .map(|n| n.pool())
        .collect();
    assert!(s.spot_nodes() < 3 || pools.len() >= 3);
    assert!(s.cost_per_hour >= s.lower_bound_per_hour);
}

#[test]
fn hostname_anti_affinity_puts_one_pod_per_node_and_zone_spread_balances() {
    let p = scenarios::karpenter(250, 3);
    let s = solve(&p);
    assert!(validate(&p, &s).is_empty());
    for node in &s.nodes {
        let anti = node
            .pods
            .iter()
            .filter(|&&i| p.pods[i].labels["app"] == "anti")
            .count();
        assert!(anti <= 1);
    }
    let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    for node in &s.nodes {
        *per_zone.entry(&node.zone).or_default() += node
            .pods
            .iter()
            .filter(|&&i| p.pods[i].labels["app"] == "zone-spread")
            .count();
    }
    let (min, max) = (
        per_zone.values().min().copied().unwrap_or(0),
        per_zone.values().max().copied().unwrap_or(0),
    );
    assert!(max - min <= 1, "{per_zone:?}");
    let affinity_zones: std::collections::HashSet<&str> = s
        .nodes
        .iter()
        .filter(|n| {
            n.pods
                .iter()
                .any(|&i| p.pods[i].labels["app"] == "zone-affinity")
        })
        .map(|n| n.zone.as_str())
        .collect();
    assert_eq!(affinity_zones.len(), 1);
}

/// (name, instance type, zone, capacity type, price, pod ids)
type NodeRow<'a> = (&'a str, &'a str, &'a str, CapacityType, f64, &'a [&'a str]);

fn running(nodes: &[NodeRow]) -> Vec<ExistingNode> {
    nodes
        .iter()
        .map(|(name, t, zone, cap, price, pods)| ExistingNode {
            name: (*name).into(),
            instance_type: (*t).into(),
            zone: (*zone).into(),
            capacity_type: *cap,
            price_per_hour: *price,
            pods: pods.iter().map(|p| (*p).to_string()).collect(),
            allocatable: None,
            labels: Default::default(),
            taints: Vec::new(),
            cordoned: false,
            do_not_disrupt: None,
            settling: false,
        })
        .collect()
}

/// Six pods on two spot nodes of one pool (m.xlarge in z-a).
fn one_spot_pool() -> Problem {
    let mut p = problem((0..6).map(|i| pod(&format!("p{i}"), 1000, 2048)).collect());
    p.existing_nodes = running(&[
        (
            "n1",
            "m.xlarge",
            "z-a",
            CapacityType::Spot,
            0.08,
            &["p0", "p1", "p2"],
        ),
        (
            "n2",
            "m.xlarge",
            "z-a",
            CapacityType::Spot,
            0.08,
            &["p3", "p4", "p5"],
        ),
    ]);
    p
}

#[test]
fn interruption_response_launches_elsewhere_before_draining() {
    let mut p = one_spot_pool();
    p.existing_nodes.extend(running(&[(
        "n3",
        "m.large",
        "z-b",
        CapacityType::OnDemand,
        0.1,
        &[],
    )]));
    let pool = PoolRef {
        instance_type: "m.xlarge".into(),
        zone: "z-a".into(),
    };
    let plan = respond_to_interruption(&p, &Interrupted::Pool(pool), DisruptionBudget::nodes(1));
    let kinds: Vec<&str> = plan
        .steps
        .iter()
        .map(|s| match s.action {
            StepAction::Launch { .. } => "launch",
            StepAction::WaitReady { .. } => "wait",
            StepAction::Cordon { .. } => "cordon",
            StepAction::Drain { .. } => "drain",
            StepAction::Terminate { .. } => "terminate",
        })
        .collect();
    let wait = kinds
        .iter()
        .position(|k| *k == "wait")
        .expect("waits for replacements");
    assert!(
        kinds[..wait].iter().all(|k| *k == "launch") && wait > 0,
        "{kinds:?}"
    );
    assert_eq!(
        &kinds[wait + 1..],
        [
            "cordon",
            "drain",
            "terminate",
            "cordon",
            "drain",
            "terminate"
        ]
    );
    for step in &plan.steps {
        if let StepAction::Launch {
            instance_type,
            zone,
            capacity_type,
            ..
        } = &step.action
        {
            assert!(
                !(instance_type == "m.xlarge"
                    && zone == "z-a"
                    && *capacity_type == CapacityType::Spot),
                "relaunched into the interrupted pool"
            );
        }
        assert!(!step.explanation.is_empty());
    }
    let drained: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            StepAction::Drain { node } => Some(node.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(drained, ["n1", "n2"]);
}

#[test]
fn a_notice_for_one_node_moves_that_node_only_and_keeps_its_pool_out_of_the_replacement() {
    let p = one_spot_pool();
    let plan = respond_to_interruption(
        &p,
        &Interrupted::Node("n2".into()),
        DisruptionBudget::nodes(1),
    );
    let mut drained = Vec::new();
    for step in &plan.steps {
        match &step.action {
            StepAction::Drain { node } => drained.push(node.as_str()),
            StepAction::Launch {
                instance_type,
                zone,
                capacity_type,
                ..
            } => assert!(
                !(instance_type == "m.xlarge"
                    && zone == "z-a"
                    && *capacity_type == CapacityType::Spot),
                "relaunched into the interrupted pool"
            ),
            _ => {}
        }
    }
    assert_eq!(drained, ["n2"], "the node without a notice keeps running");
    let unknown = respond_to_interruption(
        &p,
        &Interrupted::Node("gone".into()),
        DisruptionBudget::nodes(1),
    );
    assert!(unknown.steps.is_empty());
    assert!(unknown.reason.contains("gone"), "{}", unknown.reason);
}

#[test]
fn consolidation_below_the_threshold_is_an_empty_plan_with_the_reason() {
    let mut p = problem(vec![pod("a", 1000, 2048), pod("b", 1000, 2048)]);
    p.existing_nodes = running(&[(
        "n1",
        "m.large",
        "z-a",
        CapacityType::Spot,
        0.04,
        &["a", "b"],
    )]);
    p.policy.min_savings_percent = 10.0;
    // Shave the price a hair so a repack would save a little, but less than 10%.
    for o in &mut p.offerings {
        if o.instance_type == "m.large" && o.capacity_type == CapacityType::Spot && o.zone == "z-b"
        {
            o.price_per_hour = 0.039;
        }
    }
    let c = consolidate(&p, DisruptionBudget::nodes(1));
    assert!(c.plan.is_empty());
    assert!(
        c.plan.reason.contains("below the policy's minimum of 10%"),
        "{}",
        c.plan.reason
    );
}

#[test]
fn consolidation_removes_empty_nodes_and_repacks_when_it_pays() {
    let mut p = problem((0..4).map(|i| pod(&format!("p{i}"), 500, 1024)).collect());
    p.existing_nodes = running(&[
        (
            "n1",
            "m.xlarge",
            "z-a",
            CapacityType::OnDemand,
            0.2,
            &["p0"],
        ),
        (
            "n2",
            "m.xlarge",
            "z-a",
            CapacityType::OnDemand,
            0.2,
            &["p1"],
        ),
        (
            "n3",
            "m.xlarge",
            "z-b",
            CapacityType::OnDemand,
            0.2,
            &["p2", "p3"],
        ),
        ("n4", "m.16xlarge", "z-b", CapacityType::OnDemand, 3.2, &[]),
    ]);
    p.policy.min_savings_percent = 5.0;
    let c = consolidate(&p, DisruptionBudget::percent(50));
    assert!(!c.plan.is_empty(), "{}", c.plan.reason);
    assert!(c.plan.savings_per_hour > 3.0);
    assert!((c.plan.savings_per_month - c.plan.savings_per_hour * HOURS_PER_MONTH).abs() < 1e-9);
    let drained: Vec<_> = c
        .plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            StepAction::Drain { node } => Some(node.clone()),
            _ => None,
        })
        .collect();
    assert!(drained.contains(&"n4".to_string()));
}

#[test]
fn removing_empty_nodes_moves_no_pod() {
    let mut p = problem((0..4).map(|i| pod(&format!("p{i}"), 500, 1024)).collect());
    p.existing_nodes = running(&[
        (
            "n1",
            "m.xlarge",
            "z-a",
            CapacityType::OnDemand,
            0.2,
            &["p0", "p1"],
        ),
        (
            "n2",
            "m.xlarge",
            "z-a",
            CapacityType::OnDemand,
            0.2,
            &["p2", "p3"],
        ),
        ("n3", "m.16xlarge", "z-b", CapacityType::OnDemand, 3.2, &[]),
    ]);
    p.policy.min_savings_percent = 5.0;
    let plan = remove_empty_nodes(&p, DisruptionBudget::percent(50));
    let touched: Vec<_> = plan
        .steps
        .iter()
        .map(|s| match &s.action {
            StepAction::Cordon { node }
            | StepAction::Drain { node }
            | StepAction::Terminate { node } => node.as_str(),
            other => panic!("only retirements: {other:?}"),
        })
        .collect();
    assert_eq!(touched, ["n3", "n3", "n3"]);
    assert!((plan.savings_per_hour - 3.2).abs() < 1e-9);

    // A small empty node goes too, although it saves less than the minimum: no pod moves.
    p.existing_nodes[2].price_per_hour = 0.01;
    let small = remove_empty_nodes(&p, DisruptionBudget::percent(50));
    assert_eq!(small.steps.len(), 3, "{}", small.reason);
    assert!(small.reason.contains("no pod moves"), "{}", small.reason);

    p.existing_nodes.pop();
    let none = remove_empty_nodes(&p, DisruptionBudget::percent(50));
    assert!(none.is_empty());
    assert_eq!(none.reason, "no node is empty");
}

#[test]
fn strategies_are_listed_by_name_and_the_live_one_is_not_worse_than_the_naive_one() {
    let p = scenarios::karpenter(300, 5);
    let live = strategy::live().solve(&p);
    let naive = strategy::by_name("cheapest-per-pod").unwrap().solve(&p);
    assert_eq!(live.strategy, "lp-guided-ffd");
    assert!(live.cost_per_hour <= naive.cost_per_hour + 1e-9);
    assert!(strategy::by_name("nope").is_none());
}

#[test]
fn problems_round_trip_through_json() {
    let p = scenarios::karpenter(20, 1);
    let text = serde_json::to_string(&p).unwrap();
    let back: Problem = serde_json::from_str(&text).unwrap();
    assert_eq!(back.pods, p.pods);
    assert_eq!(back.offerings.len(), p.offerings.len());
    assert!(
        back.offerings
            .iter()
            .zip(&p.offerings)
            .all(|(a, b)| a.instance_type == b.instance_type
                && (a.price_per_hour - b.price_per_hour).abs() < 1e-12)
    );
}

/// kube-scheduler's NodeResourcesFit counts `ephemeral-storage` like cpu and memory: pods that
/// write a lot to local disk are spread over nodes whose root volumes hold them, and a pod no
/// root volume can hold is told so, never planned onto a node where it would wait.
#[test]
fn ephemeral_storage_is_packed_like_cpu_and_memory() {
    let mut offerings = small_catalog();
    let storage = ephemeral_storage_allocatable_mib(DEFAULT_ROOT_VOLUME_GIB);
    for o in &mut offerings {
        o.allocatable.ephemeral_storage_mib = storage;
    }
    let with_disk = |id: &str, mib: i64| Pod {
        requests: pod(id, 100, 128).requests.with_ephemeral_storage(mib),
        ..pod(id, 100, 128)
    };
    // 17 GiB left to pods on a 20 GiB root volume: 10 GiB each, one pod per node.
    assert_eq!(storage, 17_408);
    let p = Problem {
        offerings,
        pods: vec![
            with_disk("etl-0", 10_240),
            with_disk("etl-1", 10_240),
            with_disk("etl-2", 10_240),
            with_disk("scratch", 30_720),
        ],
        ..Problem::default()
    };
    let s = solve(&p);
    assert_eq!(s.nodes.len(), 3, "{s:?}");
    assert_eq!(s.unschedulable.len(), 1);
    assert_eq!(
        s.unschedulable[0].reason,
        "needs 30720Mi ephemeral-storage but the admitted instance types it can run on allow at most 17408Mi (their root volume less the kubelet's reserve)"
    );
    assert!(validate(&p, &s).is_empty());
}

// Preferences, after Karpenter's "Preferential Fallback" and topology suites
// (`pkg/controllers/provisioning/scheduling/suite_test.go`, `topology_test.go`).

fn prefer_node(weight: u32, key: &str, value: &str) -> Preference {
    Preference {
        weight,
        preferred: Preferred::NodeAffinity(NodeSelectorTerm {
            requirements: vec![Requirement {
                key: key.into(),
                operator: Operator::In,
                values: vec![value.into()],
            }],
        }),
    }
}

fn zones_of(solution: &Solution) -> Vec<&str> {
    solution.nodes.iter().map(|n| n.zone.as_str()).collect()
}

/// Karpenter: "should relax all terms". Preferences no offering meets never keep a pod from
/// running; each is named.
#[test]
fn preferences_no_offering_meets_are_given_up_and_named() {
    let mut web = pod("web", 500, 512);
    web.preferences = vec![
        prefer_node(1, well_known::ZONE, "invalid"),
        prefer_node(1, well_known::INSTANCE_TYPE, "invalid"),
    ];
    let s = solve(&problem(vec![web]));
    assert!(s.unschedulable.is_empty());
    assert_eq!(s.nodes.len(), 1);
    let unmet: Vec<&str> = s
        .unmet_preferences
        .iter()
        .map(|u| u.preference.as_str())
        .collect();
    assert_eq!(
        unmet,
        [
            "preferred node affinity topology.kubernetes.io/zone In invalid (weight 1)",
            "preferred node affinity node.kubernetes.io/instance-type In invalid (weight 1)",
        ]
    );
}

/// Karpenter: "should relax to use lighter weights". The heaviest preference cannot be met, the
/// next one can, and the lightest contradicts it: the pod runs where the middle one asks.
#[test]
fn a_lighter_preference_is_met_when_a_heavier_one_cannot_be() {
    let mut web = pod("web", 500, 512);
    web.preferences = vec![
        prefer_node(100, well_known::INSTANCE_TYPE, "z-c"),
        prefer_node(50, well_known::ZONE, "z-b"),
        prefer_node(1, well_known::ZONE, "z-a"),
    ];
    let s = solve(&problem(vec![web]));
    assert_eq!(zones_of(&s), ["z-b"]);
    let weights: Vec<bool> = s
        .unmet_preferences
        .iter()
        .map(|u| u.preference.ends_with("(weight 100)") || u.preference.ends_with("(weight 1)"))
        .collect();
    assert_eq!(weights, [true, true]);
}

/// Karpenter: "should not relax the final term". A required term is never a preference.
#[test]
fn a_required_node_affinity_is_never_relaxed() {
    let mut web = pod("web", 500, 512);
    web.required_node_affinity.push(NodeSelectorTerm {
        requirements: vec![Requirement {
            key: well_known::ZONE.into(),
            operator: Operator::In,
            values: vec!["invalid".into()],
        }],
    });
    web.preferences = vec![prefer_node(10, well_known::ZONE, "z-a")];
    let s = solve(&problem(vec![web]));
    assert!(s.nodes.is_empty());
    assert_eq!(s.unschedulable.len(), 1);
}

/// Four replicas that would rather spread over the zones (`ScheduleAnyway`).
fn spread_replicas() -> Vec<Pod> {
    let spread = Preference {
        weight: 100,
        preferred: Preferred::TopologySpread(TopologySpread {
            topology_key: TopologyKey::Zone,
            max_skew: 1,
            match_labels: BTreeMap::from([("app".to_owned(), "web".to_owned())]),
        }),
    };
    (0..4)
        .map(|i| {
            let mut web = pod(&format!("web-{i}"), 900, 3_000);
            web.preferences = vec![spread.clone()];
            web
        })
        .collect()
}

/// Karpenter's topology suite: a `ScheduleAnyway` zone spread is honoured while it costs
/// nothing (two small nodes cost what one of twice the size does) and the replicas land in
/// both zones.
#[test]
fn a_schedule_anyway_spread_is_met_when_it_costs_nothing() {
    let s = solve(&problem(spread_replicas()));
    assert!(s.unmet_preferences.is_empty(), "{:?}", s.unmet_preferences);
    let in_a = s
        .nodes
        .iter()
        .filter(|n| n.zone == "z-a")
        .map(|n| n.pods.len())
        .sum::<usize>();
    assert_eq!(in_a, 2, "{:?}", zones_of(&s));
}

/// Pods waiting for a node get launches that meet their preferences too.
#[test]
fn waiting_pods_are_launched_for_where_they_prefer_to_run() {
    let provisioned = provision(&problem(spread_replicas()));
    assert!(provisioned.unmet_preferences.is_empty());
    let zones: Vec<&str> = provisioned
        .plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            StepAction::Launch { zone, .. } => Some(zone.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(zones, ["z-a", "z-b"], "{:?}", provisioned.plan.steps);
}
