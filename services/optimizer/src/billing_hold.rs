//! Billing's word on applying changes to a cluster (see `BillingService.CheckAutomation`): after a
//! failed payment's grace period, or beyond the plan's limits, consolidations and compliance plans
//! are only recommended. Provisioning and interruption responses never ask: a workload is never
//! put at risk over a bill. When billing cannot answer, the autopilot goes on (billing being down
//! must not stop a cluster's care).

use spot_config::ServiceName;
use spot_proto::billing::v1::CheckAutomationRequest;
use spot_proto::billing::v1::billing_service_client::BillingServiceClient;
use spot_proto::optimizer::v1 as pb;

use crate::OptimizerApi;

/// Plans billing may hold back: those that move running workloads to save or to comply.
pub fn held_by_billing(plan: &pb::Plan) -> bool {
    !matches!(
        plan.kind(),
        pb::PlanKind::Provisioning | pb::PlanKind::InterruptionResponse
    )
}

impl OptimizerApi {
    /// Why billing holds the tenant's automation back, if it does.
    pub(crate) async fn billing_hold(
        &self,
        tenant_id: &str,
        cluster_id: &str,
        nodes: usize,
    ) -> Option<String> {
        let channel = self.ctx.clients.channel(ServiceName::Billing)?;
        let answer = BillingServiceClient::new(channel)
            .check_automation(CheckAutomationRequest {
                tenant_id: tenant_id.to_owned(),
                cluster_id: cluster_id.to_owned(),
                nodes: u32::try_from(nodes).unwrap_or(u32::MAX),
            })
            .await;
        match answer {
            Ok(answer) => {
                let answer = answer.into_inner();
                (!answer.allowed).then_some(answer.reason)
            }
            Err(status) => {
                tracing::warn!(%status, tenant_id, "billing not asked: the autopilot goes on");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(kind: pb::PlanKind) -> pb::Plan {
        pb::Plan {
            kind: kind.into(),
            ..Default::default()
        }
    }

    #[test]
    fn billing_never_holds_back_provisioning_or_an_interruption_response() {
        assert!(!held_by_billing(&plan(pb::PlanKind::Provisioning)));
        assert!(!held_by_billing(&plan(pb::PlanKind::InterruptionResponse)));
        assert!(held_by_billing(&plan(pb::PlanKind::Consolidation)));
        assert!(held_by_billing(&plan(pb::PlanKind::Compliance)));
    }
}
