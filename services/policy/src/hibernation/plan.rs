//! The hibernate and wake plans, pure: from the cluster's reported nodes and pods, which steps run.
//!
//! - Hibernate records the capacity (every node's pool and capacity type, counted), keeps every
//!   node that hosts a pod of a must-run workload, and for the others: cordon them all first (so
//!   drained pods do not land on a node about to go), then drain and terminate each in turn.
//! - Wake launches the recorded capacity minus what still runs (the kept nodes, or nodes that
//!   came back meanwhile), pool by pool and capacity type by capacity type, each launch with
//!   fallback pools for when its own is dry (`spot_engine::fallback_instance_types`), then waits
//!   for the new nodes to be ready.
//! - Release terminates what an unfinished wake launched that never joined the cluster (its
//!   replica ended, its nodes never became ready, or it launched only part of a pool), so the next
//!   run starts from the nodes the agent reports and a retry never launches the same capacity
//!   twice.

use std::collections::BTreeMap;

use spot_proto::common::v1::{CapacityType, Node, Pod, Pool};
use spot_proto::policy::v1 as pb;

use super::schedule::{Change, Workload};

pub const CORDON: &str = "cordon";
pub const DRAIN: &str = "drain";
pub const TERMINATE: &str = "terminate";
pub const LAUNCH: &str = "launch";
pub const WAIT_READY: &str = "wait_ready";
pub const RELEASE: &str = "release";

type PoolKey = (String, String, i32);

fn key(node: &Node) -> PoolKey {
    (
        node.zone.clone(),
        node.instance_type.clone(),
        node.capacity_type,
    )
}

/// The cluster's nodes counted by pool and capacity type (nodes without a zone or type, which
/// could not be launched again, are left out).
pub fn capacity_of(region: &str, nodes: &[Node]) -> Vec<pb::CapacityGroup> {
    let mut counts: BTreeMap<PoolKey, u32> = BTreeMap::new();
    for node in nodes {
        if node.zone.is_empty() || node.instance_type.is_empty() {
            continue;
        }
        *counts.entry(key(node)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(
            |((zone, instance_type, capacity_type), count)| pb::CapacityGroup {
                pool: Some(Pool {
                    region: region.to_owned(),
                    zone,
                    instance_type,
                }),
                capacity_type: if capacity_type == CapacityType::Unspecified as i32 {
                    CapacityType::OnDemand.into()
                } else {
                    capacity_type
                },
                count,
            },
        )
        .collect()
}

fn step(kind: &str, node_name: &str) -> pb::HibernationStep {
    pb::HibernationStep {
        kind: kind.to_owned(),
        node_name: node_name.to_owned(),
        status: pb::HibernationStepStatus::Pending.into(),
        ..Default::default()
    }
}

pub struct HibernatePlan {
    /// Nodes that stay, because they host a must-run workload's pod.
    pub kept: Vec<String>,
    pub steps: Vec<pb::HibernationStep>,
}

pub fn hibernate(nodes: &[Node], pods: &[Pod], must_run: &[Workload]) -> HibernatePlan {
    let mut kept: Vec<String> = nodes
        .iter()
        .filter(|node| {
            pods.iter().any(|pod| {
                pod.node_name == node.name && must_run.iter().any(|workload| workload.owns(pod))
            })
        })
        .map(|node| node.name.clone())
        .collect();
    kept.sort();
    let going: Vec<&Node> = nodes.iter().filter(|n| !kept.contains(&n.name)).collect();
    let mut steps: Vec<pb::HibernationStep> = going.iter().map(|n| step(CORDON, &n.name)).collect();
    for node in &going {
        steps.push(step(DRAIN, &node.name));
        steps.push(step(TERMINATE, &node.name));
    }
    HibernatePlan { kept, steps }
}

/// The launches that bring back `recorded` given the nodes and pods now, then the wait.
pub fn wake(
    recorded: &[pb::CapacityGroup],
    nodes: &[Node],
    pods: &[Pod],
) -> Vec<pb::HibernationStep> {
    let mut running: BTreeMap<PoolKey, u32> = BTreeMap::new();
    for node in nodes {
        let mut key = key(node);
        if key.2 == CapacityType::Unspecified as i32 {
            key.2 = CapacityType::OnDemand.into();
        }
        *running.entry(key).or_default() += 1;
    }
    // What still runs of each recorded pool counts first; what runs beyond a group's count is
    // left for no other group (pools are unique).
    let mut short: Vec<(&pb::CapacityGroup, &Pool, u32)> = recorded
        .iter()
        .filter_map(|group| {
            let pool = group.pool.as_ref()?;
            let key = (
                pool.zone.clone(),
                pool.instance_type.clone(),
                group.capacity_type,
            );
            let still = running.get_mut(&key).map(std::mem::take).unwrap_or(0);
            Some((group, pool, group.count.saturating_sub(still)))
        })
        .collect();
    // Then nodes an earlier wake launched in a fallback pool stand for the pool they replaced,
    // so a retried wake does not launch them again.
    let mut steps: Vec<pb::HibernationStep> = Vec::new();
    for (group, pool, missing) in &mut short {
        if *missing == 0 {
            continue;
        }
        let fallbacks = fallback_pools(pool, group.capacity_type(), pods);
        for fallback in &fallbacks {
            let key = (
                fallback.zone.clone(),
                fallback.instance_type.clone(),
                group.capacity_type,
            );
            if let Some(count) = running.get_mut(&key) {
                let taken = (*count).min(*missing);
                *count -= taken;
                *missing -= taken;
            }
        }
        if *missing > 0 {
            steps.push(pb::HibernationStep {
                kind: LAUNCH.to_owned(),
                capacity: Some(pb::CapacityGroup {
                    count: *missing,
                    ..(*group).clone()
                }),
                status: pb::HibernationStepStatus::Pending.into(),
                fallback_pools: fallbacks,
                ..Default::default()
            });
        }
    }
    if !steps.is_empty() {
        steps.push(step(WAIT_READY, ""));
    }
    steps
}

/// The pools a wake's launch in `pool` may draw from when it is dry. The policy's admission is
/// not applied: the cluster must wake, and compliance brings it back within its policy later.
fn fallback_pools(pool: &Pool, capacity_type: CapacityType, pods: &[Pod]) -> Vec<Pool> {
    let problem = spot_engine::Problem {
        offerings: spot_engine::offerings_in(&pool.region, std::slice::from_ref(&pool.zone)),
        pods: pods
            .iter()
            .filter(|p| spot_kit::kube_terms::needs_a_node(p))
            .map(spot_kit::kube_terms::pod)
            .collect(),
        ..Default::default()
    };
    let capacity_type = match capacity_type {
        CapacityType::Spot => spot_engine::CapacityType::Spot,
        _ => spot_engine::CapacityType::OnDemand,
    };
    spot_engine::fallback_instance_types(&problem, &pool.instance_type, &pool.zone, capacity_type)
        .into_iter()
        .map(|instance_type| Pool {
            region: pool.region.clone(),
            zone: pool.zone.clone(),
            instance_type,
        })
        .collect()
}

/// The instances that succeeded release steps of `runs` terminated.
pub fn released(runs: &[pb::HibernationRun]) -> Vec<String> {
    runs.iter()
        .flat_map(|run| &run.steps)
        .filter(|s| s.kind == RELEASE && s.status() == pb::HibernationStepStatus::Succeeded)
        .flat_map(|s| s.instance_ids.iter().cloned())
        .collect()
}

/// The instances `run` (a wake) launched that are not the cluster's nodes and that no release
/// step of it terminated.
pub fn unjoined(run: &pb::HibernationRun, nodes: &[Node]) -> Vec<String> {
    let released = released(std::slice::from_ref(run));
    run.steps
        .iter()
        .filter(|s| s.kind == LAUNCH)
        .flat_map(|s| &s.instance_ids)
        .filter(|id| !released.contains(id) && !nodes.iter().any(|n| &n.instance_id == *id))
        .cloned()
        .collect()
}

/// What the newest wake of `recent` (a cluster's runs, newest first) launched and never joined,
/// unless that wake succeeded or a run since released it.
pub fn leftovers(recent: &[pb::HibernationRun], nodes: &[Node]) -> Vec<String> {
    let Some(newest_wake) = recent
        .iter()
        .position(|run| run.kind == Change::Wake.as_str())
    else {
        return Vec::new();
    };
    let wake = &recent[newest_wake];
    if wake.status() == pb::HibernationRunStatus::Succeeded {
        return Vec::new();
    }
    let released_since = released(&recent[..newest_wake]);
    unjoined(wake, nodes)
        .into_iter()
        .filter(|id| !released_since.contains(id))
        .collect()
}

/// The step that terminates `instance_ids`.
pub fn release(instance_ids: Vec<String>) -> pb::HibernationStep {
    pb::HibernationStep {
        instance_ids,
        ..step(RELEASE, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, zone: &str, capacity_type: CapacityType) -> Node {
        Node {
            name: name.into(),
            instance_id: format!("i-{name}"),
            instance_type: "m5.large".into(),
            zone: zone.into(),
            capacity_type: capacity_type.into(),
            ready: true,
            ..Default::default()
        }
    }

    fn pod(namespace: &str, name: &str, node: &str) -> Pod {
        Pod {
            namespace: namespace.into(),
            name: name.into(),
            node_name: node.into(),
            ..Default::default()
        }
    }

    #[test]
    fn hibernate_keeps_must_run_nodes_and_cordons_before_draining() {
        let nodes = [
            node("a", "us-east-1a", CapacityType::Spot),
            node("b", "us-east-1a", CapacityType::Spot),
            node("c", "us-east-1b", CapacityType::OnDemand),
        ];
        let pods = [
            pod("kube-system", "coredns-5d78c9869d-x7vzp", "c"),
            pod("shop", "web-7f9c-abcde", "a"),
        ];
        let must_run = [Workload::parse("kube-system/coredns").unwrap()];
        let plan = hibernate(&nodes, &pods, &must_run);
        assert_eq!(plan.kept, ["c"]);
        let steps: Vec<(String, String)> = plan
            .steps
            .iter()
            .map(|s| (s.kind.clone(), s.node_name.clone()))
            .collect();
        let expected: Vec<(String, String)> = [
            (CORDON, "a"),
            (CORDON, "b"),
            (DRAIN, "a"),
            (TERMINATE, "a"),
            (DRAIN, "b"),
            (TERMINATE, "b"),
        ]
        .iter()
        .map(|(k, n)| ((*k).to_owned(), (*n).to_owned()))
        .collect();
        assert_eq!(steps, expected);

        let capacity = capacity_of("us-east-1", &nodes);
        assert_eq!(capacity.len(), 2);
        assert_eq!(capacity[0].count, 2);
        assert_eq!(capacity[0].capacity_type(), CapacityType::Spot);
        assert_eq!(capacity[1].count, 1);

        // Waking with only the kept node running launches the two spot nodes back, with
        // pools of the same zone and capacity type to draw from if m5.large is dry there.
        let steps = wake(&capacity, &nodes[2..], &[]);
        assert_eq!(steps.len(), 2);
        let launch = steps[0].capacity.as_ref().unwrap();
        assert_eq!(
            (launch.count, launch.capacity_type()),
            (2, CapacityType::Spot)
        );
        assert_eq!(launch.pool.as_ref().unwrap().zone, "us-east-1a");
        let fallbacks = &steps[0].fallback_pools;
        assert!(!fallbacks.is_empty());
        assert!(
            fallbacks
                .iter()
                .all(|p| p.zone == "us-east-1a" && p.instance_type != "m5.large"),
            "{fallbacks:?}"
        );
        assert_eq!(steps[1].kind, WAIT_READY);
        // Everything running: nothing to do.
        assert!(wake(&capacity, &nodes, &[]).is_empty());
        // One spot node came back in a fallback pool: only the other is launched again.
        let mut in_fallback = node("fallback", "us-east-1a", CapacityType::Spot);
        in_fallback.instance_type = fallbacks[0].instance_type.clone();
        let with_fallback = [nodes[2].clone(), in_fallback];
        let steps = wake(&capacity, &with_fallback, &[]);
        assert_eq!(steps[0].capacity.as_ref().unwrap().count, 1, "{steps:?}");
    }

    #[test]
    fn what_an_unfinished_wake_launched_and_never_joined_is_released_once() {
        let launch = |ids: &[&str]| pb::HibernationStep {
            kind: LAUNCH.into(),
            instance_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
            status: pb::HibernationStepStatus::Succeeded.into(),
            ..Default::default()
        };
        let mut run = pb::HibernationRun {
            kind: "wake".into(),
            steps: vec![
                launch(&["i-a", "i-x"]),
                launch(&["i-y"]),
                step(WAIT_READY, ""),
            ],
            ..Default::default()
        };
        // i-a joined as node "a"; i-x and i-y never did.
        let nodes = [node("a", "us-east-1a", CapacityType::Spot)];
        assert_eq!(unjoined(&run, &nodes), ["i-x", "i-y"]);

        // A release that failed releases nothing; one that succeeded, what it names.
        let mut failed = release(vec!["i-x".into()]);
        failed.status = pb::HibernationStepStatus::Failed.into();
        run.steps.push(failed);
        assert_eq!(unjoined(&run, &nodes), ["i-x", "i-y"]);
        let mut done = release(vec!["i-x".into()]);
        done.status = pb::HibernationStepStatus::Succeeded.into();
        run.steps.push(done);
        assert_eq!(unjoined(&run, &nodes), ["i-y"]);
        assert_eq!(release(vec![]).kind, RELEASE);

        // The next run looks at the newest wake: unless it succeeded, what it left and no later
        // run released is left over.
        run.status = pb::HibernationRunStatus::Failed.into();
        let mut hibernate = pb::HibernationRun {
            kind: "hibernate".into(),
            steps: vec![release(vec!["i-y".into()])],
            ..Default::default()
        };
        assert_eq!(
            leftovers(&[hibernate.clone(), run.clone()], &nodes),
            ["i-y"]
        );
        hibernate.steps[0].status = pb::HibernationStepStatus::Succeeded.into();
        assert!(leftovers(&[hibernate.clone(), run.clone()], &nodes).is_empty());
        assert!(
            leftovers(&[hibernate], &nodes).is_empty(),
            "no wake, nothing left"
        );
        run.status = pb::HibernationRunStatus::Succeeded.into();
        assert!(
            leftovers(&[run], &[]).is_empty(),
            "a wake that succeeded left nothing, whatever became of its nodes"
        );
    }
}
