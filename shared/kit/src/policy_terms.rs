//! A policy (the contract) in the engine's terms. One mapping for the policy service's preview and
//! validation and for the optimizer's planning, so what a preview admits is what plans use.

use spot_engine as engine;
use spot_proto::common::v1::Architecture;
use spot_proto::policy::v1 as pb;

/// The policy's limits: on-demand base, spot share, interruption bucket, pools, price cap and
/// the minimum saving.
pub fn engine_policy(policy: &pb::Policy) -> engine::Policy {
    engine::Policy {
        on_demand_base: policy.on_demand_base,
        spot_share_percent: u8::try_from(policy.spot_percent.min(100)).unwrap_or(100),
        max_interruption_bucket: u8::try_from(policy.max_interruption_bucket.clamp(0, 4)).ok(),
        min_spot_pools: policy.min_pools,
        max_price_per_vcpu_hour: (policy.max_usd_per_vcpu_hour > 0.0)
            .then_some(policy.max_usd_per_vcpu_hour),
        min_savings_percent: policy.consolidation_min_savings_percent.max(0.0),
    }
}

/// What the policy admits by kind (families, categories, generations, architectures). Node
/// templates' requirements are not part of the policy message; the optimizer adds them.
pub fn pool_filter(policy: &pb::Policy) -> engine::PoolFilter {
    engine::PoolFilter {
        allowed_families: policy.allowed_families.clone(),
        denied_families: policy.denied_families.clone(),
        allowed_categories: policy.allowed_categories.clone(),
        allowed_generations: policy
            .allowed_generations
            .iter()
            .filter_map(|g| u32::try_from(*g).ok())
            .collect(),
        architectures: policy
            .architectures()
            .filter_map(|a| match a {
                Architecture::Amd64 => Some(engine::Architecture::Amd64),
                Architecture::Arm64 => Some(engine::Architecture::Arm64),
                Architecture::Unspecified => None,
            })
            .collect(),
        templates: Vec::new(),
    }
}
