//! OptimizerService: Recommend (a dry run, stored), ApplyPlan, ListPlans, GetPlan, WatchPlan and
//! GetAutopilotStatus.

use futures::StreamExt;
use spot_access::{AuditNote, tenant};
use spot_config::ServiceName;
use spot_kit::page;
use spot_kit::topics::OPTIMIZER_PLANS;
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::fleet_service_client::FleetServiceClient;
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_server::OptimizerService;
use tonic::{Request, Response, Status};

use crate::OptimizerApi;
use crate::apply;
use crate::policy::{Governing, NodeSetup};
use crate::problem::problem;
use crate::recommend::{note_policy_dry_run, recommend};
use crate::status::autopilot_status;

type Fleet = FleetServiceClient<spot_kit::OutgoingChannel>;

impl OptimizerApi {
    /// What the cluster service tells about its clusters and their fleet.
    pub(crate) fn fleet(&self) -> Result<Fleet, Status> {
        self.ctx
            .clients
            .channel(ServiceName::Cluster)
            .map(FleetServiceClient::new)
            .ok_or_else(|| Status::unavailable("the cluster service is not reachable"))
    }

    /// The pools the hive mind flags in the region: never chosen for new capacity.
    pub(crate) async fn flagged_pools(&self, region: &str) -> Vec<spot_engine::PoolRef> {
        match spot_kit::risk_flags::active(self.ctx.bus.as_ref(), region).await {
            Ok(flags) => flags
                .into_iter()
                .map(|f| spot_engine::PoolRef {
                    instance_type: f.instance_type,
                    zone: f.zone,
                })
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "risk flags unavailable; planning without them");
                Vec::new()
            }
        }
    }

    /// The live spot prices of the cluster's region, from its tenant's price source; empty (the
    /// advisor's estimates are used) when the cluster service cannot say.
    pub(crate) async fn live_prices(
        &self,
        state: &cluster::GetClusterStateResponse,
    ) -> crate::problem::LivePrices {
        let Some(found) = state.cluster.as_ref() else {
            return Default::default();
        };
        let Ok(mut fleet) = self.fleet() else {
            return Default::default();
        };
        match fleet
            .get_spot_prices(cluster::GetSpotPricesRequest {
                tenant_id: found.tenant_id.clone(),
                region: found.region.clone(),
            })
            .await
        {
            Ok(prices) => {
                let prices = prices.into_inner().prices;
                let estimated = prices
                    .iter()
                    .filter(|p| p.estimated)
                    .map(|p| (p.zone.clone(), p.instance_type.clone()))
                    .collect();
                self.estimated_prices
                    .remember(&found.tenant_id, &found.region, estimated);
                prices
                    .into_iter()
                    .map(|p| ((p.zone, p.instance_type), p.usd_per_hour))
                    .collect()
            }
            Err(status) => {
                tracing::warn!(%status, "live spot prices unavailable; planning with estimates");
                Default::default()
            }
        }
    }

    /// The engine's problem for the cluster as reported, under its policy, with the hive mind's
    /// flags.
    pub(crate) async fn problem_for(
        &self,
        state: &cluster::GetClusterStateResponse,
        policy: &Governing,
    ) -> (String, spot_engine::Problem) {
        let region = state
            .cluster
            .as_ref()
            .map(|c| c.region.clone())
            .unwrap_or_default();
        let live = self.live_prices(state).await;
        let mut problem = problem(&region, &state.nodes, &state.pods, policy, &live);
        crate::problem::keep_launchable(
            &mut problem,
            &state.launchable_zones,
            &state.launchable_architectures,
        );
        crate::problem::give_root_volumes(&mut problem, state.launchable_root_volume_gib);
        problem.risk_flags = self.flagged_pools(&region).await;
        (region, problem)
    }

    /// Recommends a plan for the cluster (the engine runs off the async threads).
    pub(crate) async fn recommend_for(
        &self,
        cluster_id: &str,
        state: &cluster::GetClusterStateResponse,
        policy: &Governing,
    ) -> Result<(pb::Plan, spot_engine::Problem), Status> {
        let (region, problem) = self.problem_for(state, policy).await;
        let cluster_id = cluster_id.to_owned();
        let budget = policy.budget;
        let (mut plan, problem) = tokio::task::spawn_blocking(move || {
            let plan = recommend(&cluster_id, &region, &problem, budget);
            (plan, problem)
        })
        .await
        .map_err(|_| Status::internal("the planner stopped"))?;
        if policy.dry_run {
            note_policy_dry_run(&mut plan);
        }
        if let Some(found) = state.cluster.as_ref() {
            self.estimated_prices
                .note(&found.tenant_id, &found.region, &mut plan);
        }
        Ok((plan, problem))
    }

    /// Starts the plan unless another plan of its cluster is applying (the caller holds the
    /// cluster's start lock).
    async fn start_alone(
        &self,
        tenant_id: &str,
        plan: pb::Plan,
        node_setup: NodeSetup,
    ) -> Result<pb::Plan, Status> {
        if let Some(running) = self
            .plans
            .applying(tenant_id, &plan.cluster_id)
            .await?
            .first()
        {
            return Err(Status::failed_precondition(format!(
                "plan {} of cluster {} is still applying: one plan at a time",
                running.id, plan.cluster_id
            )));
        }
        self.start_applying(plan, node_setup).await
    }

    /// Marks the plan applying and hands it to the step runner, which runs it in the background
    /// (and, should this process stop, on another replica).
    pub(crate) async fn start_applying(
        &self,
        mut plan: pb::Plan,
        node_setup: NodeSetup,
    ) -> Result<pb::Plan, Status> {
        // Nothing is started while the cluster service cannot be reached at all.
        self.fleet()?;
        let tenant_id = self.plans.tenant_of(&plan.id).await?;
        plan.state = pb::PlanState::Applying.into();
        self.plans.save(&plan).await?;
        self.runner
            .start(apply::run_of(&tenant_id, &plan, &node_setup))
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        Ok(plan)
    }

    /// The cluster's state if it belongs to the tenant; another tenant's cluster does not exist.
    pub(crate) async fn cluster_state(
        &self,
        tenant_id: &str,
        cluster_id: &str,
    ) -> Result<cluster::GetClusterStateResponse, Status> {
        spot_kit::clusters::tenant_cluster_state(&self.ctx, tenant_id, cluster_id).await
    }
}

/// A plan that would leave running pods with no node is applied only when the caller names every
/// one of them: losing a workload must be a decision, never a side effect of saving money.
fn refuse_unaccepted_loss(plan: &pb::Plan, accepted: &[String]) -> Result<(), Status> {
    let unaccepted: Vec<String> = plan
        .stranded_pods
        .iter()
        .filter(|p| !accepted.contains(&format!("{}/{}", p.namespace, p.name)))
        .map(|p| format!("{}/{} ({})", p.namespace, p.name, p.reason))
        .collect();
    if unaccepted.is_empty() {
        return Ok(());
    }
    Err(Status::failed_precondition(format!(
        "plan {} would leave {} running pod(s) with no node: {}; name them in `accept_pod_loss` to apply it anyway",
        plan.id,
        unaccepted.len(),
        unaccepted.join("; ")
    )))
}

#[tonic::async_trait]
impl OptimizerService for OptimizerApi {
    async fn recommend(
        &self,
        request: Request<pb::RecommendRequest>,
    ) -> Result<Response<pb::RecommendResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let cluster_id = request.into_inner().cluster_id;
        let state = self.cluster_state(&tenant_id, &cluster_id).await?;
        let policy = self.policy_for(&tenant_id, &cluster_id).await?;
        let (plan, problem) = self.recommend_for(&cluster_id, &state, &policy).await?;
        self.plans.insert(&tenant_id, &plan, &problem).await?;
        Ok(Response::new(pb::RecommendResponse { plan: Some(plan) }))
    }

    async fn apply_plan(
        &self,
        request: Request<pb::ApplyPlanRequest>,
    ) -> Result<Response<pb::ApplyPlanResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let plan_id = request.plan_id;
        let plan = self.plans.get(&tenant_id, &plan_id).await?;
        if plan.state() != pb::PlanState::Recommended {
            return Err(Status::failed_precondition(format!(
                "plan {plan_id} is {}: only a recommended plan can be applied",
                plan.state().as_str_name()
            )));
        }
        if plan.steps.is_empty() {
            return Err(Status::failed_precondition(format!(
                "plan {plan_id} has no steps: {}",
                plan.reason
            )));
        }
        refuse_unaccepted_loss(&plan, &request.accept_pod_loss)?;
        let policy = self.policy_for(&tenant_id, &plan.cluster_id).await?;
        if policy.dry_run {
            return Err(Status::failed_precondition(format!(
                "the policy of cluster {} is in dry-run (version {}): plans are recommended, not applied",
                plan.cluster_id, policy.version
            )));
        }
        if crate::billing_hold::held_by_billing(&plan) {
            let nodes = self
                .cluster_state(&tenant_id, &plan.cluster_id)
                .await?
                .nodes
                .len();
            if let Some(reason) = self.billing_hold(&tenant_id, &plan.cluster_id, nodes).await {
                return Err(Status::failed_precondition(format!(
                    "plan {plan_id} is not applied: {reason}"
                )));
            }
        }
        // Two plans draining one cluster at once would each count on room the other takes. The
        // check and the start happen under a short per-cluster lock, so two concurrent calls
        // cannot both pass it.
        let lock = format!("optimizer.apply-plan.{}", plan.cluster_id);
        let locked = self
            .ctx
            .bus
            .set_if_absent(&lock, b"1", std::time::Duration::from_secs(30))
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        if !locked {
            return Err(Status::failed_precondition(format!(
                "another plan of cluster {} is being started: one plan at a time",
                plan.cluster_id
            )));
        }
        let started = self.start_alone(&tenant_id, plan, policy.node_setup).await;
        if let Err(error) = self.ctx.bus.delete(&lock).await {
            tracing::warn!(%error, "plan start lock not released (it expires by itself)");
        }
        let plan = started?;
        Ok(AuditNote::target(format!("plan/{}", plan.id))
            .attach(Response::new(pb::ApplyPlanResponse { plan: Some(plan) })))
    }

    async fn list_plans(
        &self,
        request: Request<pb::ListPlansRequest>,
    ) -> Result<Response<pb::ListPlansResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        // Like every cluster-scoped read: another tenant's cluster is NOT_FOUND, not an empty list.
        if !request.cluster_id.is_empty() {
            self.cluster_state(&tenant_id, &request.cluster_id).await?;
        }
        let size = page::size(request.page.as_ref());
        let before = page::cursor(request.page.as_ref())?;
        let plans = self
            .plans
            .list(&tenant_id, &request.cluster_id, before, size + 1)
            .await?;
        let (plans, page) = page::split(plans, size, |p| p.id.clone());
        Ok(Response::new(pb::ListPlansResponse {
            plans,
            page: Some(page),
        }))
    }

    async fn get_plan(
        &self,
        request: Request<pb::GetPlanRequest>,
    ) -> Result<Response<pb::GetPlanResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let plan = self.plans.get(&tenant_id, &request.plan_id).await?;
        let problem_json = if request.include_problem {
            self.plans.problem(&plan.id).await?.unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::GetPlanResponse {
            plan: Some(plan),
            problem_json,
        }))
    }

    async fn get_savings_report(
        &self,
        request: Request<pb::GetSavingsReportRequest>,
    ) -> Result<Response<pb::GetSavingsReportResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let since = request.since.as_ref().map(spot_proto::time::millis);
        Ok(Response::new(
            self.savings_report(&tenant_id, &request.cluster_id, since)
                .await?,
        ))
    }

    async fn get_autopilot_status(
        &self,
        request: Request<pb::GetAutopilotStatusRequest>,
    ) -> Result<Response<pb::GetAutopilotStatusResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let cluster_id = request.into_inner().cluster_id;
        if cluster_id.is_empty() {
            return Err(Status::invalid_argument("cluster_id: required"));
        }
        let state = self.cluster_state(&tenant_id, &cluster_id).await?;
        let policy = self.policy_for(&tenant_id, &cluster_id).await?;
        let (_, problem) = self.problem_for(&state, &policy).await;
        let billing_hold = self
            .billing_hold(&tenant_id, &cluster_id, state.nodes.len())
            .await;
        let mut status =
            tokio::task::spawn_blocking(move || autopilot_status(&cluster_id, &problem))
                .await
                .map_err(|_| Status::internal("the planner stopped"))?;
        status.billing_hold = billing_hold.unwrap_or_default();
        Ok(Response::new(status))
    }

    async fn compare_strategies(
        &self,
        request: Request<pb::CompareStrategiesRequest>,
    ) -> Result<Response<pb::CompareStrategiesResponse>, Status> {
        Ok(Response::new(self.compare(request.into_inner()).await?))
    }

    async fn watch_plan(
        &self,
        request: Request<pb::WatchPlanRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<pb::WatchPlanResponse>>, Status> {
        let tenant_id = tenant(&request)?;
        let plan_id = request.into_inner().plan_id;
        // Subscribe before reading, so no change falls between the two.
        let changes = OPTIMIZER_PLANS
            .subscribe(self.ctx.bus.as_ref())
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        let current = self.plans.get(&tenant_id, &plan_id).await?;
        let shutdown = self.ctx.shutdown.clone();
        let updates = changes
            .filter(move |plan| std::future::ready(plan.id == plan_id))
            .map(|plan| Ok(pb::WatchPlanResponse { plan: Some(plan) }));
        let stream = futures::stream::once(std::future::ready(Ok(pb::WatchPlanResponse {
            plan: Some(current),
        })))
        .chain(updates)
        .take_until(async move { shutdown.cancelled().await });
        Ok(Response::new(Box::pin(stream)))
    }
}
