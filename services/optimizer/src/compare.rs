//! CompareStrategies (internal, for the lab): what each named strategy would pick for a cluster
//! now, on the same problem the live planner sees. Nothing is stored or applied.

use std::time::Instant;

use spot_engine::strategy;
use spot_proto::common::v1::Pool;
use spot_proto::optimizer::v1 as pb;
use tonic::Status;

use crate::OptimizerApi;

/// Strategies one call may compare.
const MAX_STRATEGIES: usize = 4;

fn outcome(region: &str, solution: &spot_engine::Solution, solve_ms: f64) -> pb::StrategyOutcome {
    pb::StrategyOutcome {
        strategy: solution.strategy.clone(),
        cost_usd_per_hour: solution.cost_per_hour,
        nodes: solution.nodes.len() as u32,
        unschedulable_pods: solution.unschedulable.len() as u32,
        solve_ms,
        spot_nodes: solution
            .nodes
            .iter()
            .filter(|n| n.capacity_type == spot_engine::CapacityType::Spot)
            .map(|n| Pool {
                region: region.to_owned(),
                zone: n.zone.clone(),
                instance_type: n.instance_type.clone(),
            })
            .collect(),
    }
}

impl OptimizerApi {
    pub(crate) async fn compare(
        &self,
        request: pb::CompareStrategiesRequest,
    ) -> Result<pb::CompareStrategiesResponse, Status> {
        if request.strategies.is_empty() || request.strategies.len() > MAX_STRATEGIES {
            return Err(Status::invalid_argument(format!(
                "invalid `strategies`: 1 to {MAX_STRATEGIES} names"
            )));
        }
        let mut chosen = Vec::with_capacity(request.strategies.len());
        for (index, name) in request.strategies.iter().enumerate() {
            let found = strategy::by_name(name).ok_or_else(|| {
                let known: Vec<&str> = strategy::all().iter().map(|s| s.name()).collect();
                Status::invalid_argument(format!(
                    "invalid `strategies[{index}]`: `{name}` is not one of {}",
                    known.join(", ")
                ))
            })?;
            chosen.push(found);
        }
        let state = self
            .cluster_state(&request.tenant_id, &request.cluster_id)
            .await?;
        let policy = self
            .policy_for(&request.tenant_id, &request.cluster_id)
            .await?;
        let (region, problem) = self.problem_for(&state, &policy).await;
        let outcomes = tokio::task::spawn_blocking(move || {
            chosen
                .into_iter()
                .map(|strategy| {
                    let started = Instant::now();
                    let solution = strategy.solve(&problem);
                    let solve_ms = started.elapsed().as_secs_f64() * 1_000.0;
                    outcome(&region, &solution, solve_ms)
                })
                .collect()
        })
        .await
        .map_err(|_| Status::internal("the planner stopped"))?;
        Ok(pb::CompareStrategiesResponse { outcomes })
    }
}
