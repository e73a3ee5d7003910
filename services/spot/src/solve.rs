//! `spot solve --input problem.json [--output result.json]`: runs the engine on a problem file and
//! prints one JSON line with what it decided and whether the result is valid. How a user or an
//! auditor replays a packing: the file is the engine's problem (`offerings`, `pods`, `policy`,
//! `risk_flags`, `existing_nodes`; the README documents the schema), or a `spot bench optimizer
//! --dump` file, whose `problem` key holds one. A file that does not parse, or contradicts itself,
//! is an error naming the field.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};
use spot_engine as engine;

pub fn run(input: &Path, output: Option<&Path>) -> Result<Value, String> {
    let text = std::fs::read_to_string(input)
        .map_err(|e| format!("cannot read `--input` {}: {e}", input.display()))?;
    let problem = parse(&text)?;
    check(&problem)?;
    let started = Instant::now();
    let solution = engine::solve(&problem);
    let solve_ms = started.elapsed().as_secs_f64() * 1_000.0;
    let violations = engine::validate(&problem, &solution);
    if let Some(path) = output {
        let full = json!({
            "problem": problem,
            "solution": solution,
            "violations": violations.iter().map(|v| json!({"rule": v.rule, "detail": v.detail})).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&full)
            .map_err(|e| format!("cannot encode the result: {e}"))?;
        std::fs::write(path, text)
            .map_err(|e| format!("cannot write `--output` {}: {e}", path.display()))?;
    }
    Ok(json!({
        "pods": problem.pods.len(),
        "offerings": problem.offerings.len(),
        "strategy": solution.strategy,
        "nodes": solution.nodes.len(),
        "spot_nodes": solution.spot_nodes(),
        "cost_per_hour": solution.cost_per_hour,
        "lower_bound_per_hour": solution.lower_bound_per_hour,
        "gap_percent": solution.gap_percent,
        "unschedulable": solution.unschedulable.iter().map(|u| json!({"pod": u.id, "reason": u.reason})).collect::<Vec<_>>(),
        "notes": solution.notes,
        "valid": violations.is_empty(),
        "violations": violations.iter().map(|v| format!("{}: {}", v.rule, v.detail)).collect::<Vec<_>>(),
        "solve_ms": solve_ms,
    }))
}

/// The problem in the file: the whole file, or its `problem` key (a bench dump).
fn parse(text: &str) -> Result<engine::Problem, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("invalid `--input`: not JSON: {e}"))?;
    let (value, prefix) = match value.get("problem") {
        Some(inner) => (inner.clone(), "problem."),
        None => (value, ""),
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            prefix.trim_end_matches('.').to_owned()
        } else {
            format!("{prefix}{path}")
        };
        format!("invalid `{field}`: {}", e.inner())
    })
}

/// What JSON's shape cannot say: ids are unique, nodes run only pods the problem has, prices
/// and requests are not negative.
fn check(problem: &engine::Problem) -> Result<(), String> {
    let mut ids = HashSet::new();
    for (i, pod) in problem.pods.iter().enumerate() {
        if pod.id.is_empty() {
            return Err(format!("invalid `pods[{i}].id`: required"));
        }
        if !ids.insert(pod.id.as_str()) {
            return Err(format!(
                "invalid `pods[{i}].id`: `{}` appears twice",
                pod.id
            ));
        }
        let r = &pod.requests;
        if r.cpu_m < 0 || r.memory_mib < 0 || r.gpus < 0 {
            return Err(format!(
                "invalid `pods[{i}].requests`: no request may be negative"
            ));
        }
    }
    let mut pools = HashSet::new();
    for (i, offering) in problem.offerings.iter().enumerate() {
        if offering.price_per_hour.is_nan() || offering.price_per_hour < 0.0 {
            return Err(format!(
                "invalid `offerings[{i}].price_per_hour`: 0 or more"
            ));
        }
        let pool = (
            &offering.instance_type,
            &offering.zone,
            offering.capacity_type,
        );
        if !pools.insert(pool) {
            return Err(format!(
                "invalid `offerings[{i}]`: {} in {} ({}) appears twice",
                offering.instance_type,
                offering.zone,
                offering.capacity_type.label()
            ));
        }
    }
    for (i, node) in problem.existing_nodes.iter().enumerate() {
        if let Some(unknown) = node.pods.iter().find(|p| !ids.contains(p.as_str())) {
            return Err(format!(
                "invalid `existing_nodes[{i}].pods`: `{unknown}` is not one of `pods`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem_json() -> Value {
        let problem = engine::Problem {
            offerings: engine::offerings_in("us-east-1", &["us-east-1a".to_owned()])
                .into_iter()
                .filter(|o| o.instance_type.starts_with("m5."))
                .collect(),
            pods: (0..4)
                .map(|i| engine::Pod {
                    id: format!("shop/web-{i}"),
                    requests: engine::Resources::new(500, 1_024, 1, 0),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        serde_json::to_value(problem).unwrap()
    }

    fn solve(value: &Value) -> Result<Value, String> {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("problem.json");
        std::fs::write(&input, value.to_string()).unwrap();
        run(&input, None)
    }

    #[test]
    fn a_problem_file_is_solved_and_validated() {
        let result = solve(&problem_json()).unwrap();
        assert_eq!(result["valid"], true, "{result}");
        assert_eq!(result["pods"], 4);
        assert!(result["nodes"].as_u64().unwrap() >= 1);
        assert!(result["cost_per_hour"].as_f64().unwrap() > 0.0);
        // A bench dump carries the problem under `problem`.
        let dumped = json!({"problem": problem_json(), "nodes": []});
        assert_eq!(
            solve(&dumped).unwrap()["cost_per_hour"],
            result["cost_per_hour"]
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        let mut wrong_type = problem_json();
        wrong_type["pods"][2]["requests"]["cpu_m"] = json!("lots");
        let error = solve(&wrong_type).unwrap_err();
        assert!(
            error.starts_with("invalid `pods[2].requests.cpu_m`"),
            "{error}"
        );
        let mut twice = problem_json();
        twice["pods"][3]["id"] = json!("shop/web-0");
        let error = solve(&twice).unwrap_err();
        assert!(
            error.contains("`pods[3].id`") && error.contains("twice"),
            "{error}"
        );
        let mut unknown = problem_json();
        unknown["existing_nodes"] = json!([{
            "name": "n1", "instance_type": "m5.large", "zone": "us-east-1a",
            "capacity_type": "on-demand", "price_per_hour": 0.096, "pods": ["shop/ghost"],
        }]);
        let error = solve(&unknown).unwrap_err();
        assert!(error.contains("`existing_nodes[0].pods`"), "{error}");
        assert!(
            solve(&json!("not a problem"))
                .unwrap_err()
                .starts_with("invalid `")
        );
    }
}
