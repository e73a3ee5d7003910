//! The execution router: the one place where changes leave the platform. A step is either an EC2
//! call through the cloud provider (launch, terminate) or a Kubernetes action on the agent's
//! stream. Safe mode and the cluster's dry-run are checked here, for every caller (plans, the
//! hibernation scheduler, an operator's action); a refusal is stored, logged as a cluster event
//! and audited as refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use sea_orm::EntityTrait;
use spot_access::AuditNote;
use spot_cloud::{
    CLUSTER_ID_TAG, CapacityType, CloudError, CloudProvider, LAUNCH_TOKEN_TAG, LaunchRequest, Pool,
    RoleArn,
};
use spot_db::SystemSettingsStore;
use spot_proto::agent::v1::{Action, ActionKind};
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::execution_service_server::ExecutionService;
use tonic::{Request, Response, Status};

use crate::ClusterApi;
use crate::common::db_status;
use crate::connector::CloudConnector;
use crate::entity::{actions, aws_accounts, clusters};
use crate::events::kind;
use crate::outbox::{self, NewAction};

/// Drains get ten minutes unless asked otherwise; quick node edits one.
const DRAIN_DEADLINE_SECONDS: u32 = 600;
const EDIT_DEADLINE_SECONDS: u32 = 60;
const MAX_DEADLINE_SECONDS: u32 = 3_600;

/// What the cluster's new nodes can be (see `GetClusterStateResponse`); empty lists and 0 when
/// anything (or the platform's default) will do.
#[derive(Debug, Default)]
pub(crate) struct Launchable {
    pub(crate) zones: Vec<String>,
    pub(crate) architectures: Vec<String>,
    pub(crate) root_volume_gib: u32,
}

pub enum Executed {
    Action(actions::Model),
    Refused {
        reason: String,
        action: Option<actions::Model>,
    },
    Cloud {
        instance_ids: Vec<String>,
        /// Why a launch gave fewer instances than asked, pool by pool (empty otherwise).
        shortfall: String,
    },
}

/// Checks an action before it is stored: a clear InvalidArgument naming the field.
pub fn validate_action(action: &mut Action, now_millis: i64) -> Result<(), Status> {
    let kind = action.kind();
    if kind == ActionKind::Unspecified {
        return Err(Status::invalid_argument(
            "invalid `kind`: one of cordon, uncordon, drain, label, taint, delete node",
        ));
    }
    if action.node_name.is_empty() || action.node_name.len() > 253 {
        return Err(Status::invalid_argument(
            "invalid `node_name`: 1 to 253 characters",
        ));
    }
    if kind == ActionKind::Label && action.labels.is_empty() {
        return Err(Status::invalid_argument(
            "invalid `labels`: a label action needs at least one label",
        ));
    }
    if let Some(key) = action.labels.keys().find(|k| k.is_empty() || k.len() > 316) {
        return Err(Status::invalid_argument(format!(
            "invalid `labels`: key `{key}` must be 1 to 316 characters"
        )));
    }
    if kind == ActionKind::Taint && action.taints.is_empty() && action.remove_taint_keys.is_empty()
    {
        return Err(Status::invalid_argument(
            "invalid `taints`: a taint action needs at least one taint to set or one key to remove",
        ));
    }
    if action.remove_taint_keys.iter().any(String::is_empty) {
        return Err(Status::invalid_argument(
            "invalid `remove_taint_keys`: a key to remove cannot be empty",
        ));
    }
    if action.taints.iter().any(|t| t.key.is_empty()) {
        return Err(Status::invalid_argument(
            "invalid `taints`: every taint needs a key",
        ));
    }
    let default_seconds = if kind == ActionKind::Drain {
        DRAIN_DEADLINE_SECONDS
    } else {
        EDIT_DEADLINE_SECONDS
    };
    match &action.deadline {
        None => {
            action.deadline = Some(spot_proto::time::timestamp(
                now_millis + i64::from(default_seconds) * 1_000,
            ));
        }
        Some(deadline) => {
            let millis = spot_proto::time::millis(deadline);
            if millis <= now_millis || millis > now_millis + i64::from(MAX_DEADLINE_SECONDS) * 1_000
            {
                return Err(Status::invalid_argument(
                    "invalid `deadline`: must be in the future and at most an hour away",
                ));
            }
        }
    }
    Ok(())
}

pub fn deadline_in(
    seconds: u32,
    now_millis: i64,
) -> Result<Option<prost_types::Timestamp>, Status> {
    if seconds == 0 {
        return Ok(None);
    }
    if seconds > MAX_DEADLINE_SECONDS {
        return Err(Status::invalid_argument(
            "invalid `deadline_seconds`: at most 3600",
        ));
    }
    Ok(Some(spot_proto::time::timestamp(
        now_millis + i64::from(seconds) * 1_000,
    )))
}

/// A cloud call's failure as the step's caller should treat it: the account refusing (its
/// permissions) or the request being wrong ends the step at once, with AWS's code and message;
/// throttling and outages may be tried again.
fn cloud_status(error: CloudError) -> Status {
    match error {
        CloudError::AccessDenied(_) => Status::permission_denied(error.to_string()),
        CloudError::InvalidArgument { .. } => Status::failed_precondition(error.to_string()),
        CloudError::Throttled(_) | CloudError::Unavailable(_) => {
            Status::unavailable(error.to_string())
        }
    }
}

fn pool_of(pool: &spot_proto::common::v1::Pool, region: &str) -> Result<Pool, Status> {
    if pool.instance_type.is_empty() || pool.zone.is_empty() {
        return Err(Status::invalid_argument(
            "invalid `launch.pools`: every pool needs a zone and an instance type",
        ));
    }
    if !pool.region.is_empty() && pool.region != region {
        return Err(Status::invalid_argument(format!(
            "invalid `launch.pools`: pool region `{}` is not the cluster's region `{region}`",
            pool.region
        )));
    }
    Ok(Pool {
        region: region.to_owned(),
        zone: pool.zone.clone(),
        instance_type: pool.instance_type.clone(),
    })
}

impl ClusterApi {
    /// Why nothing may leave the platform for this cluster now, if so.
    async fn refusal(&self, cluster: &clusters::Model) -> Result<Option<String>, Status> {
        let settings = SystemSettingsStore::new(self.ctx.db.clone())
            .get()
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        if settings.safe_mode {
            return Ok(Some(
                "safe mode is on: the platform changes nothing in any cluster until an admin turns it off"
                    .to_owned(),
            ));
        }
        if cluster.dry_run {
            return Ok(Some(format!(
                "cluster `{}` is in dry-run: changes are recommended, not made",
                cluster.name
            )));
        }
        Ok(None)
    }

    /// Stores the action (or its refusal); the hub delivers it to the agent wherever it is.
    pub(crate) async fn route_action(
        &self,
        cluster: &clusters::Model,
        plan_id: Option<&str>,
        mut action: Action,
    ) -> Result<Executed, Status> {
        // A retried step's action (same id) is the stored one, as it went: never sent twice.
        if !action.id.is_empty()
            && let Some(row) = self.outbox.get(&action.id).await?
            && row.cluster_id == cluster.id
        {
            return Ok(if row.status == outbox::status::REFUSED {
                Executed::Refused {
                    reason: row.message.clone(),
                    action: Some(row),
                }
            } else {
                Executed::Action(row)
            });
        }
        validate_action(&mut action, chrono::Utc::now().timestamp_millis())?;
        let refused = self.refusal(cluster).await?;
        let row = self
            .outbox
            .create(NewAction {
                tenant_id: &cluster.tenant_id,
                cluster_id: &cluster.id,
                plan_id,
                action,
                refused: refused.clone(),
            })
            .await?;
        match refused {
            Some(reason) => {
                let node = self.inventory.node(&cluster.id, &row.node_name).await?;
                self.events
                    .record(
                        &cluster.id,
                        kind::REFUSED,
                        format!(
                            "{} refused: {reason}",
                            outbox::describe(&row, node.as_ref())
                        ),
                    )
                    .await?;
                Ok(Executed::Refused {
                    reason,
                    action: Some(row),
                })
            }
            None => Ok(Executed::Action(row)),
        }
    }

    /// A cluster named by an internal caller (which has checked the tenant already).
    pub(crate) async fn internal_cluster(&self, id: &str) -> Result<clusters::Model, Status> {
        clusters::Entity::find_by_id(id)
            .one(self.ctx.db.connection())
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("cluster not found"))
    }

    pub(crate) async fn cloud_for(
        &self,
        cluster: &clusters::Model,
    ) -> Result<Arc<dyn CloudProvider>, Status> {
        if let CloudConnector::Simulated(cloud) = &self.connector {
            return Ok(cloud.clone());
        }
        let account_id = cluster.aws_account_id.as_deref().ok_or_else(|| {
            Status::failed_precondition(
                "the cluster has no linked AWS account: link one and adopt the cluster from it",
            )
        })?;
        let account = aws_accounts::Entity::find_by_id(account_id)
            .one(self.ctx.db.connection())
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::failed_precondition("the cluster's AWS account was unlinked"))?;
        let role = RoleArn::parse(&account.role_arn).map_err(Status::internal)?;
        let external_id = self.external_id(&cluster.tenant_id).await?;
        Ok(self.connector.connect(&role, &external_id).await)
    }

    /// Where and on what new nodes can go: on EC2 the zones of the node class's subnets and the
    /// architectures of its images, as last resolved; empty lists when anything will do.
    pub(crate) async fn launchable(&self, cluster: &clusters::Model) -> Result<Launchable, Status> {
        if matches!(self.connector, CloudConnector::Simulated(_)) {
            return Ok(Launchable::default());
        }
        let Some((row, inherited)) = self.node_class_in_force(cluster).await? else {
            return Ok(Launchable::default());
        };
        let root_volume_gib = crate::node_classes::parse(&row).root_volume_gib;
        // A tenant's default holds no one cluster's zones: anything will do until launch.
        if inherited {
            return Ok(Launchable {
                root_volume_gib,
                ..Launchable::default()
            });
        }
        Ok(Launchable {
            zones: crate::node_classes::zones(&row),
            architectures: crate::node_classes::architectures(&row),
            root_volume_gib,
        })
    }

    /// Why the cluster could not launch nodes now, if so: no node class, one that no longer
    /// resolves, or no subnet in a zone its nodes run in.
    async fn cannot_launch(&self, cluster: &clusters::Model) -> Result<Option<String>, Status> {
        if matches!(self.connector, CloudConnector::Simulated(_)) {
            return Ok(None);
        }
        let cloud = match self.cloud_for(cluster).await {
            Ok(cloud) => cloud,
            Err(status) => return Ok(Some(status.message().to_owned())),
        };
        let spec = match self.launch_spec(cloud.as_ref(), cluster).await {
            Ok(spec) => spec,
            Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                return Ok(Some(status.message().to_owned()));
            }
            Err(status) => return Err(status),
        };
        let zones: std::collections::BTreeSet<String> = self
            .inventory
            .nodes(&cluster.id, None, None)
            .await?
            .into_iter()
            .map(|node| node.zone)
            .filter(|zone| !zone.is_empty())
            .collect();
        let missing: Vec<String> = zones
            .into_iter()
            .filter(|zone| !spec.subnets.contains_key(zone))
            .collect();
        if !missing.is_empty() {
            return Ok(Some(format!(
                "cluster `{}`'s node class has no subnet in {}, where its nodes run",
                cluster.name,
                missing.join(", ")
            )));
        }
        Ok(None)
    }

    async fn execute_cloud_step(
        &self,
        cluster: &clusters::Model,
        plan_id: &str,
        step: CloudStep,
    ) -> Result<Executed, Status> {
        let what = match &step {
            CloudStep::Launch(launch) => {
                if launch.count == 0 || launch.count > 1_000 {
                    return Err(Status::invalid_argument(
                        "invalid `launch.count`: 1 to 1000",
                    ));
                }
                if launch.pools.is_empty() {
                    return Err(Status::invalid_argument(
                        "invalid `launch.pools`: at least one pool",
                    ));
                }
                format!("launch of {} instances", launch.count)
            }
            CloudStep::Terminate(terminate) => {
                if terminate.instance_ids.is_empty() {
                    return Err(Status::invalid_argument(
                        "invalid `terminate.instance_ids`: at least one instance",
                    ));
                }
                format!("termination of {} instances", terminate.instance_ids.len())
            }
        };
        if let Some(reason) = self.refusal(cluster).await? {
            self.events
                .record(
                    &cluster.id,
                    kind::REFUSED,
                    format!("{what} refused: {reason}"),
                )
                .await?;
            return Ok(Executed::Refused {
                reason,
                action: None,
            });
        }
        let cloud = self.cloud_for(cluster).await?;
        let (instance_ids, shortfall) = match step {
            CloudStep::Launch(launch) => {
                self.launch(cloud.as_ref(), cluster, plan_id, launch)
                    .await?
            }
            CloudStep::Terminate(terminate) => {
                cloud
                    .terminate(&cluster.region, &terminate.instance_ids)
                    .await
                    .map_err(cloud_status)?;
                self.events
                    .record(
                        &cluster.id,
                        kind::CLOUD,
                        format!("terminated {}", terminate.instance_ids.join(", ")),
                    )
                    .await?;
                (terminate.instance_ids, String::new())
            }
        };
        Ok(Executed::Cloud {
            instance_ids,
            shortfall,
        })
    }

    async fn launch(
        &self,
        cloud: &dyn CloudProvider,
        cluster: &clusters::Model,
        plan_id: &str,
        launch: pb::LaunchCapacity,
    ) -> Result<(Vec<String>, String), Status> {
        let pools = launch
            .pools
            .iter()
            .map(|p| pool_of(p, &cluster.region))
            .collect::<Result<Vec<_>, _>>()?;
        let capacity_type = match launch.capacity_type() {
            spot_proto::common::v1::CapacityType::Spot => CapacityType::Spot,
            _ => CapacityType::OnDemand,
        };
        let mut tags = BTreeMap::new();
        tags.insert(
            format!("kubernetes.io/cluster/{}", cluster.name),
            "owned".to_owned(),
        );
        tags.insert(CLUSTER_ID_TAG.to_owned(), cluster.id.clone());
        if !plan_id.is_empty() {
            tags.insert("spot-optimizer/plan-id".to_owned(), plan_id.to_owned());
        }
        let client_token = (!launch.client_token.is_empty()).then(|| launch.client_token.clone());
        if let Some(token) = &client_token {
            if token.len() > 48 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Status::invalid_argument(
                    "invalid `launch.client_token`: up to 48 printable ASCII characters",
                ));
            }
            tags.insert(LAUNCH_TOKEN_TAG.to_owned(), token.clone());
        }
        if let Some(token) = &client_token {
            let earlier = launched_with(cloud, &cluster.region, token).await?;
            if !earlier.is_empty() {
                self.events
                    .record(
                        &cluster.id,
                        kind::CLOUD,
                        format!(
                            "launched {} of {} instances: {} (launched before with this step's client token)",
                            earlier.len(),
                            launch.count,
                            earlier.join(", ")
                        ),
                    )
                    .await?;
                return Ok((earlier, String::new()));
            }
        }
        // On EC2 new nodes boot as the cluster's node class says; the simulated cloud needs none.
        let spec = match &self.connector {
            CloudConnector::Simulated(_) => None,
            CloudConnector::Aws(_) => Some(self.launch_spec(cloud, cluster).await?),
        };
        let launched = cloud
            .launch(LaunchRequest {
                region: cluster.region.clone(),
                pools,
                capacity_type,
                count: launch.count,
                tags,
                spec,
                client_token,
            })
            .await
            .map_err(cloud_status)?;
        let failures: Vec<String> = launched
            .failures
            .iter()
            .map(|f| format!("{}: {} ({})", f.pool, f.code, f.message))
            .collect();
        let ids: Vec<String> = launched.instances.into_iter().map(|i| i.id).collect();
        let mut message = format!(
            "launched {} of {} instances: {}",
            ids.len(),
            launch.count,
            ids.join(", ")
        );
        let shortfall = failures.join("; ");
        if !failures.is_empty() {
            message.push_str(&format!(" (short: {shortfall})"));
        }
        self.events
            .record(&cluster.id, kind::CLOUD, message)
            .await?;
        Ok((ids, shortfall))
    }
}

/// The instances an earlier launch with this client token started (not terminated). A launch
/// step repeated after a crash then launches nothing new, whether or not the cloud still honours
/// the token itself (EC2 does for a while; moto and other EC2-compatible clouds do not).
async fn launched_with(
    cloud: &dyn CloudProvider,
    region: &str,
    token: &str,
) -> Result<Vec<String>, Status> {
    Ok(cloud
        .instances_tagged(region, LAUNCH_TOKEN_TAG)
        .await
        .map_err(cloud_status)?
        .into_iter()
        .filter(|i| i.tags.get(LAUNCH_TOKEN_TAG).map(String::as_str) == Some(token))
        .map(|i| i.id)
        .collect())
}

/// The steps that are EC2 calls rather than agent actions.
enum CloudStep {
    Launch(pb::LaunchCapacity),
    Terminate(pb::TerminateInstances),
}

#[tonic::async_trait]
impl ExecutionService for ClusterApi {
    async fn execute_step(
        &self,
        request: Request<pb::ExecuteStepRequest>,
    ) -> Result<Response<pb::ExecuteStepResponse>, Status> {
        let request = request.into_inner();
        let cluster = self.internal_cluster(&request.cluster_id).await?;
        let plan_id = request.plan_id.clone();
        let executed = match request.step {
            None => {
                return Err(Status::invalid_argument(
                    "invalid `step`: one of launch, terminate, action",
                ));
            }
            Some(pb::execute_step_request::Step::Action(action)) => {
                let plan = (!plan_id.is_empty()).then_some(plan_id.as_str());
                self.route_action(&cluster, plan, action).await?
            }
            Some(pb::execute_step_request::Step::Launch(launch)) => {
                self.execute_cloud_step(&cluster, &plan_id, CloudStep::Launch(launch))
                    .await?
            }
            Some(pb::execute_step_request::Step::Terminate(terminate)) => {
                self.execute_cloud_step(&cluster, &plan_id, CloudStep::Terminate(terminate))
                    .await?
            }
        };
        let note =
            AuditNote::target(format!("cluster/{}", cluster.id)).in_tenant(&cluster.tenant_id);
        let (note, response) = match executed {
            Executed::Action(row) => (
                note,
                pb::ExecuteStepResponse {
                    outcome: pb::ExecutionOutcome::Executed.into(),
                    action: Some(outbox::to_proto(&row)),
                    ..Default::default()
                },
            ),
            Executed::Refused { reason, action } => (
                note.refused(&reason),
                pb::ExecuteStepResponse {
                    outcome: pb::ExecutionOutcome::Refused.into(),
                    reason,
                    action: action.as_ref().map(outbox::to_proto),
                    ..Default::default()
                },
            ),
            Executed::Cloud {
                instance_ids,
                shortfall,
            } => (
                note,
                pb::ExecuteStepResponse {
                    outcome: pb::ExecutionOutcome::Executed.into(),
                    instance_ids,
                    reason: shortfall,
                    ..Default::default()
                },
            ),
        };
        Ok(note.attach(Response::new(response)))
    }

    async fn check_can_launch(
        &self,
        request: Request<pb::CheckCanLaunchRequest>,
    ) -> Result<Response<pb::CheckCanLaunchResponse>, Status> {
        let cluster_id = request.into_inner().cluster_id;
        let cluster = self.internal_cluster(&cluster_id).await?;
        let reason = self.cannot_launch(&cluster).await?;
        Ok(Response::new(pb::CheckCanLaunchResponse {
            can_launch: reason.is_none(),
            reason: reason.unwrap_or_default(),
        }))
    }
}
