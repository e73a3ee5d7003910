//! GetAutopilotStatus: what the autopilot sees wrong with a cluster now. Computed on each read
//! from the cluster's state and policy, so it never shows a stale verdict.

use spot_engine as engine;
use spot_proto::optimizer::v1 as pb;

use crate::recommend::{cannot_meet, pod_message};

fn rule(rule: engine::Rule) -> pb::PolicyRule {
    match rule {
        engine::Rule::SpotShare => pb::PolicyRule::SpotShare,
        engine::Rule::OnDemandBase => pb::PolicyRule::OnDemandBase,
        engine::Rule::InstanceType => pb::PolicyRule::InstanceType,
        engine::Rule::InterruptionBucket => pb::PolicyRule::InterruptionBucket,
        engine::Rule::PriceCap => pb::PolicyRule::PriceCap,
        engine::Rule::SpotPools => pb::PolicyRule::SpotPools,
    }
}

/// How the cluster's nodes break its policy, whether any plan could mend that, and the waiting
/// pods no launch would help.
pub fn autopilot_status(
    cluster_id: &str,
    problem: &engine::Problem,
) -> pb::GetAutopilotStatusResponse {
    let breaches = engine::breaches(problem);
    let cannot_meet = if breaches.is_empty() {
        String::new()
    } else {
        cannot_meet(problem, &engine::solve(problem))
    };
    pb::GetAutopilotStatusResponse {
        cluster_id: cluster_id.to_owned(),
        compliant: breaches.is_empty(),
        breaches: breaches
            .into_iter()
            .map(|b| pb::PolicyBreach {
                rule: rule(b.rule).into(),
                detail: b.detail,
            })
            .collect(),
        cannot_meet,
        unplaceable_pods: engine::provision(problem)
            .unplaceable
            .into_iter()
            .map(|(id, reason)| pod_message(&id, reason))
            .collect(),
        checked_at: Some(spot_proto::time::timestamp(
            chrono::Utc::now().timestamp_millis(),
        )),
        billing_hold: String::new(),
    }
}
