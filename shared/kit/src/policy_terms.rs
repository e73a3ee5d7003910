//! A policy (the contract) in the engine's terms. One mapping for the policy service's preview and
//! validation and for the optimizer's planning, so what a preview admits is what plans use.

use spot_engine as engine;
use spot_proto::common::v1::{Architecture, NodeSelectorRequirement};
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

/// A Kubernetes node-selector operator in the engine's terms; None for one it cannot read.
pub fn operator(name: &str) -> Option<engine::Operator> {
    Some(match name {
        "In" => engine::Operator::In,
        "NotIn" => engine::Operator::NotIn,
        "Exists" => engine::Operator::Exists,
        "DoesNotExist" => engine::Operator::DoesNotExist,
        "Gt" => engine::Operator::Gt,
        "Lt" => engine::Operator::Lt,
        _ => return None,
    })
}

/// Node-selector requirements in the engine's terms (one it cannot read is left out).
pub fn requirements(from: &[NodeSelectorRequirement]) -> Vec<engine::Requirement> {
    from.iter()
        .filter_map(|r| {
            Some(engine::Requirement {
                key: r.key.clone(),
                operator: operator(&r.operator)?,
                values: r.values.clone(),
            })
        })
        .collect()
}

/// What the policy admits by kind (families, categories, generations, architectures) and by
/// its node templates: a pool must meet every requirement of at least one of the policy's
/// templates. `templates` may hold others; only those the policy names count.
pub fn pool_filter(policy: &pb::Policy, templates: &[pb::NodeTemplate]) -> engine::PoolFilter {
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
        templates: templates
            .iter()
            .filter(|t| policy.node_template_ids.contains(&t.id))
            .map(|t| requirements(&t.requirements))
            .collect(),
    }
}
