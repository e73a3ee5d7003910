//! The policy every cluster has until its tenant saves one: spot wherever the advisor's
//! interruption bucket is at most 2 (under 15 %), spread over at least 3 pools, consolidating
//! under-used nodes only when a change saves at least 5 %, disrupting at most a fifth of the
//! nodes at once. Version 0: never saved.

use spot_proto::policy::v1 as pb;

pub fn budget() -> pb::DisruptionBudget {
    pb::DisruptionBudget {
        max_nodes: 0,
        max_percent: 20,
        windows: Vec::new(),
        time_zone: String::new(),
    }
}

pub fn policy() -> pb::Policy {
    pb::Policy {
        cluster_id: String::new(),
        version: 0,
        spot_percent: 100,
        on_demand_base: 0,
        max_interruption_bucket: 2,
        min_pools: 3,
        max_usd_per_vcpu_hour: 0.0,
        consolidation: pb::ConsolidationMode::WhenUnderutilized.into(),
        consolidation_min_savings_percent: 5.0,
        disruption_budget: Some(budget()),
        dry_run: false,
        ..Default::default()
    }
}

/// What a saved policy looks like whatever the client left out: trimmed, sorted, de-duplicated
/// lists, the built-in consolidation mode and budget where none was given.
pub fn normalise(policy: &mut pb::Policy) {
    fn tidy(list: &mut Vec<String>) {
        for item in list.iter_mut() {
            *item = item.trim().to_owned();
        }
        list.sort();
        list.dedup();
    }
    tidy(&mut policy.allowed_families);
    tidy(&mut policy.denied_families);
    tidy(&mut policy.allowed_categories);
    tidy(&mut policy.node_template_ids);
    tidy(&mut policy.bare_pods_evictable_in);
    tidy(&mut policy.local_data_evictable_in);
    policy.allowed_generations.sort_unstable();
    policy.allowed_generations.dedup();
    policy.architectures.sort_unstable();
    policy.architectures.dedup();
    if policy.consolidation() == pb::ConsolidationMode::Unspecified {
        policy.consolidation = pb::ConsolidationMode::WhenUnderutilized.into();
    }
    let budget = policy.disruption_budget.get_or_insert_with(budget);
    for window in &mut budget.windows {
        *window = window.trim().to_owned();
    }
    budget.time_zone = budget.time_zone.trim().to_owned();
}
