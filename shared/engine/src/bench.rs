//! One benchmark run as one JSON object: the scenario is built (untimed), solved once to warm up,
//! then solved three times; the median time is reported with the result's figures and the
//! validator's violation count.

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use crate::dump::dump_json;
use crate::scenarios;
use crate::validate::validate;

pub fn bench_report(
    scenario: &str,
    pods: usize,
    seed: u64,
    dump: Option<&Path>,
) -> Result<Value, String> {
    let problem = scenarios::by_name(scenario, pods, seed).ok_or_else(|| {
        format!("unknown scenario `{scenario}`: expected `karpenter` or `catalog`")
    })?;
    let strategy = crate::strategy::live();
    let mut solution = strategy.solve(&problem);
    let mut times = Vec::with_capacity(3);
    for _ in 0..3 {
        let start = Instant::now();
        solution = strategy.solve(&problem);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let solve_ms = times[1];
    let violations = validate(&problem, &solution);
    if let Some(path) = dump {
        let text = serde_json::to_string(&dump_json(&problem, &solution))
            .map_err(|e| format!("cannot encode the dump: {e}"))?;
        std::fs::write(path, text)
            .map_err(|e| format!("cannot write the dump to {}: {e}", path.display()))?;
    }
    let round = |x: f64, digits: i32| {
        let scale = 10f64.powi(digits);
        (x * scale).round() / scale
    };
    Ok(json!({
        "scenario": scenario,
        "strategy": solution.strategy,
        "pods": pods,
        "seed": seed,
        "solve_ms": round(solve_ms, 3),
        "pods_per_sec": round(if solve_ms > 0.0 { pods as f64 / (solve_ms / 1000.0) } else { 0.0 }, 0),
        "nodes": solution.nodes.len(),
        "spot_nodes": solution.spot_nodes(),
        "cost_per_hour": round(solution.cost_per_hour, 4),
        "on_demand_cost_per_hour": round(solution.on_demand_cost_per_hour, 4),
        "lower_bound_per_hour": round(solution.lower_bound_per_hour, 4),
        "gap_percent": round(solution.gap_percent, 3),
        "unschedulable": solution.unschedulable.len(),
        "violations": violations.len(),
        "notes": solution.notes,
    }))
}
