//! Which pools' spot prices are the advisor's estimates because their live price was out of a
//! sane band (the cluster service decides; see its `prices` module). A plan that launches spot
//! nodes into such a pool says so, since its saving rests on the estimate.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use spot_proto::common::v1::CapacityType;
use spot_proto::optimizer::v1 as pb;

/// (zone, instance type)
type PoolKey = (String, String);

/// (tenant id, region)
type PriceSource = (String, String);

/// The latest estimated pools per tenant and region, as the last price fetch reported them.
#[derive(Clone, Default)]
pub struct EstimatedPrices(Arc<Mutex<HashMap<PriceSource, BTreeSet<PoolKey>>>>);

impl EstimatedPrices {
    pub fn remember(&self, tenant_id: &str, region: &str, pools: BTreeSet<PoolKey>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((tenant_id.to_owned(), region.to_owned()), pools);
    }

    /// Adds to the plan's reason how many of the spot pools it launches in were priced at the
    /// advisor's estimate.
    pub fn note(&self, tenant_id: &str, region: &str, plan: &mut pb::Plan) {
        let known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some(pools) = known.get(&(tenant_id.to_owned(), region.to_owned())) else {
            return;
        };
        let estimated = plan
            .steps
            .iter()
            .filter(|s| s.kind() == pb::StepKind::Launch && s.capacity_type() == CapacityType::Spot)
            .filter_map(|s| s.pool.as_ref())
            .filter(|p| pools.contains(&(p.zone.clone(), p.instance_type.clone())))
            .count();
        if estimated > 0 {
            plan.reason = format!(
                "{} (the live spot prices of {estimated} of the pools it launches in were out of a sane band, so it used the advisor's estimates for them)",
                plan.reason
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use spot_proto::common::v1::Pool;

    use super::*;

    fn launch(zone: &str, instance_type: &str, capacity_type: CapacityType) -> pb::PlanStep {
        pb::PlanStep {
            kind: pb::StepKind::Launch.into(),
            pool: Some(Pool {
                region: "us-east-1".into(),
                zone: zone.into(),
                instance_type: instance_type.into(),
            }),
            capacity_type: capacity_type.into(),
            count: 1,
            ..Default::default()
        }
    }

    #[test]
    fn a_plan_launching_into_an_estimated_pool_says_so() {
        let prices = EstimatedPrices::default();
        prices.remember(
            "t1",
            "us-east-1",
            BTreeSet::from([("us-east-1a".to_owned(), "m5.large".to_owned())]),
        );
        let mut plan = pb::Plan {
            reason: "saves 40 %".into(),
            steps: vec![
                launch("us-east-1a", "m5.large", CapacityType::Spot),
                launch("us-east-1b", "m5.large", CapacityType::Spot),
            ],
            ..Default::default()
        };
        prices.note("t1", "us-east-1", &mut plan);
        assert!(
            plan.reason
                .starts_with("saves 40 % (the live spot prices of 1 of the pools"),
            "{}",
            plan.reason
        );
        let mut other_tenant = pb::Plan {
            reason: "saves 40 %".into(),
            steps: vec![launch("us-east-1a", "m5.large", CapacityType::Spot)],
            ..Default::default()
        };
        prices.note("t2", "us-east-1", &mut other_tenant);
        let mut on_demand = pb::Plan {
            reason: "saves 40 %".into(),
            steps: vec![launch("us-east-1a", "m5.large", CapacityType::OnDemand)],
            ..Default::default()
        };
        prices.note("t1", "us-east-1", &mut on_demand);
        assert_eq!(other_tenant.reason, "saves 40 %");
        assert_eq!(on_demand.reason, "saves 40 %");
    }
}
