//! The problem and its solution as one JSON object in the shape the bench tooling reads
//! (`offerings`, `pods`, `nodes`, `unschedulable`), so a run can be inspected or re-checked
//! outside the engine. Its `problem` key is the problem in the engine's own schema, so
//! `spot solve` replays the run.

use serde_json::{Value, json};

use crate::model::{Problem, Solution};

pub fn dump_json(problem: &Problem, solution: &Solution) -> Value {
    let offerings: Vec<Value> = problem
        .offerings
        .iter()
        .map(|o| {
            json!({
                "instance_type": o.instance_type,
                "zone": o.zone,
                "capacity_type": o.capacity_type.label(),
                "price_per_hour": o.price_per_hour,
                "cpu_m": o.allocatable.cpu_m,
                "memory_mib": o.allocatable.memory_mib,
                "pods": o.allocatable.pods,
            })
        })
        .collect();
    let terms = |terms: &[crate::model::PodAffinityTerm]| -> Vec<Value> {
        terms
            .iter()
            .map(|t| json!({"topology_key": t.topology_key, "match_labels": t.match_labels}))
            .collect()
    };
    let pods: Vec<Value> = problem
        .pods
        .iter()
        .map(|p| {
            let spreads: Vec<Value> = p
                .topology_spread
                .iter()
                .map(|s| {
                    json!({"topology_key": s.topology_key, "max_skew": s.max_skew, "match_labels": s.match_labels})
                })
                .collect();
            json!({
                "id": p.id,
                "cpu_m": p.requests.cpu_m,
                "memory_mib": p.requests.memory_mib,
                "labels": p.labels,
                "topology_spread": spreads,
                "affinity": terms(&p.affinity),
                "anti_affinity": terms(&p.anti_affinity),
            })
        })
        .collect();
    let id = |p: usize| {
        problem
            .pods
            .get(p)
            .map(|pod| pod.id.clone())
            .unwrap_or_default()
    };
    let nodes: Vec<Value> = solution
        .nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.name,
                "instance_type": n.instance_type,
                "zone": n.zone,
                "capacity_type": n.capacity_type.label(),
                "price_per_hour": n.price_per_hour,
                "pods": n.pods.iter().map(|&p| id(p)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let unschedulable: Vec<Value> = solution
        .unschedulable
        .iter()
        .map(|u| json!({"id": u.id, "reason": u.reason}))
        .collect();
    json!({
        "offerings": offerings,
        "pods": pods,
        "nodes": nodes,
        "unschedulable": unschedulable,
        // The whole problem in the engine's own schema: `spot solve --input` replays it.
        "problem": problem,
    })
}
