//! Tells the tenant's users how a plan ended when they need to know: a plan that failed or was
//! refused (safe mode, dry-run), and an interruption answered or not (pods at risk). Plans that
//! simply succeeded stay in the plan list; the inbox is for what needs a look. The id is the
//! plan's and its end, so a run reported twice (another replica, a resume) notifies once.

use spot_proto::events::v1::NotificationRequested;
use spot_proto::optimizer::v1 as pb;

/// The notice for a plan that just ended in `plan.state`, if it calls for one.
pub fn notice(tenant_id: &str, plan: &pb::Plan) -> Option<NotificationRequested> {
    let interruption = plan.kind() == pb::PlanKind::InterruptionResponse;
    let (kind, title) = match (plan.state(), interruption) {
        (pb::PlanState::Succeeded, true) => (
            "interruption_handled",
            "A spot interruption was handled".to_owned(),
        ),
        (pb::PlanState::Failed | pb::PlanState::Refused, true) => (
            "interruption_not_handled",
            "A spot interruption could not be fully handled: pods may be at risk".to_owned(),
        ),
        (pb::PlanState::Failed, false) => ("plan_failed", "A plan failed".to_owned()),
        (pb::PlanState::Refused, false) => ("plan_refused", "A plan was refused".to_owned()),
        _ => return None,
    };
    let steps = plan.steps.len();
    let done = plan
        .steps
        .iter()
        .filter(|s| s.status() == pb::StepStatus::Succeeded)
        .count();
    Some(NotificationRequested {
        id: format!("plan:{}:{}", plan.id, plan.state().as_str_name()),
        tenant_id: tenant_id.to_owned(),
        user_id: String::new(),
        kind: kind.to_owned(),
        title,
        body: format!(
            "Plan {} of cluster {}: {done} of {steps} steps carried out. {}",
            plan.id, plan.cluster_id, plan.reason
        ),
        min_role: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(state: pb::PlanState, kind: pb::PlanKind) -> pb::Plan {
        pb::Plan {
            id: "p1".to_owned(),
            cluster_id: "c1".to_owned(),
            state: state.into(),
            kind: kind.into(),
            reason: "step 1 refused: safe mode".to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn failures_refusals_and_interruptions_notify_and_plain_successes_do_not() {
        use pb::PlanKind::{Consolidation, InterruptionResponse};
        use pb::PlanState::{Applying, Failed, Refused, Succeeded};
        let kind = |state, plan_kind| notice("t", &plan(state, plan_kind)).map(|n| n.kind);
        assert_eq!(
            kind(Refused, Consolidation).as_deref(),
            Some("plan_refused")
        );
        assert_eq!(kind(Failed, Consolidation).as_deref(), Some("plan_failed"));
        assert_eq!(
            kind(Succeeded, InterruptionResponse).as_deref(),
            Some("interruption_handled")
        );
        assert_eq!(
            kind(Failed, InterruptionResponse).as_deref(),
            Some("interruption_not_handled")
        );
        assert_eq!(kind(Succeeded, Consolidation), None);
        assert_eq!(kind(Applying, Consolidation), None);
        let refused = notice("t", &plan(Refused, Consolidation)).unwrap();
        assert_eq!(refused.id, "plan:p1:PLAN_STATE_REFUSED");
        assert!(refused.body.contains("safe mode"), "{}", refused.body);
    }
}
