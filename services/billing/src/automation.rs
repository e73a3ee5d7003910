//! Whether the platform may apply changes to a tenant's cluster: not past the grace period of a
//! failed payment, and within the plan's limits. Recommendations are never limited, nor is
//! interruption handling (the optimizer never asks for it): a workload is never put at risk over
//! a bill.

use spot_config::ServiceName;
use spot_proto::cluster::v1::CountClustersRequest;
use spot_proto::cluster::v1::fleet_service_client::FleetServiceClient;
use tonic::Status;

use crate::BillingApi;
use crate::period::now_millis;

impl BillingApi {
    /// None when allowed; else why not, in words a user can act on.
    pub(crate) async fn automation_refusal(
        &self,
        tenant_id: &str,
        nodes: u32,
    ) -> Result<Option<String>, Status> {
        let now = now_millis();
        let subscription = self.subscriptions.get_or_start(tenant_id, now).await?;
        let grace_days = self.ctx.config.limits.billing_grace_days;
        if let Some(limited_from) = subscription.limited_from(grace_days)
            && now >= limited_from
        {
            return Ok(Some(format!(
                "a payment failed more than {grace_days} days ago: the platform only recommends until an invoice is paid (see Billing)"
            )));
        }
        let plan = subscription.plan_at(now);
        if plan.max_nodes_per_cluster > 0 && nodes > plan.max_nodes_per_cluster {
            return Ok(Some(format!(
                "the {} plan manages clusters of up to {} nodes and this one has {nodes}: change plan to have it optimized",
                plan.name, plan.max_nodes_per_cluster
            )));
        }
        if plan.max_clusters > 0 {
            let clusters = self.cluster_count(tenant_id).await?;
            if clusters > plan.max_clusters {
                return Ok(Some(format!(
                    "the {} plan manages up to {} clusters and this tenant has {clusters}: remove one or change plan",
                    plan.name, plan.max_clusters
                )));
            }
        }
        Ok(None)
    }

    async fn cluster_count(&self, tenant_id: &str) -> Result<u32, Status> {
        let channel = self
            .ctx
            .clients
            .channel(ServiceName::Cluster)
            .ok_or_else(|| Status::unavailable("the cluster service is not reachable"))?;
        let counts = FleetServiceClient::new(channel)
            .count_clusters(CountClustersRequest {
                tenant_ids: vec![tenant_id.to_owned()],
            })
            .await?
            .into_inner();
        Ok(counts.clusters.get(tenant_id).copied().unwrap_or(0))
    }
}
