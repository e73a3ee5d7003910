//! ClusterService: registering clusters (each gets an agent key from auth) and reading them.
//! Nodes and pods as the agent reported them, its status, the event log, the actions and their
//! live streams (fed from the bus, so every replica sees everything).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use spot_access::AuditNote;
use spot_cloud::Catalog;
use spot_config::ServiceName;
use spot_proto::auth::v1::IssueAgentKeyRequest;
use spot_proto::auth::v1::api_key_service_client::ApiKeyServiceClient;
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::cluster_service_server::ClusterService;
use tonic::{Request, Response, Status};

use crate::ClusterApi;
use crate::common::{tenant, timestamp};
use crate::entity::{aws_accounts, clusters};
use crate::events::CLUSTER_EVENTS_TOPIC;
use crate::execution::{Executed, deadline_in};
use crate::inventory::pod_key;
use crate::outbox;
use spot_bus::Topic;
use spot_kit::page;
use spot_kit::topics::CLUSTER_ACTIONS;
use spot_proto::agent::v1::Action;

/// A registered cluster with what its agent needs, shown once.
pub struct Registered {
    pub cluster: clusters::Model,
    pub agent_key: String,
    pub install_command: String,
}

pub fn to_proto(row: &clusters::Model) -> pb::Cluster {
    pb::Cluster {
        id: row.id.clone(),
        tenant_id: row.tenant_id.clone(),
        name: row.name.clone(),
        region: row.region.clone(),
        aws_account_id: row.aws_account_id.clone().unwrap_or_default(),
        dry_run: row.dry_run,
        created_at: Some(timestamp(row.created_at)),
    }
}

/// Kubernetes-style names: lower-case letters, digits and dashes, 1..=63, starting with a letter.
fn check_name(name: &str) -> Result<(), Status> {
    let valid = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(Status::invalid_argument(
            "invalid `name`: 1 to 63 lower-case letters, digits and dashes, starting with a letter",
        ))
    }
}

fn db_error(error: sea_orm::DbErr) -> Status {
    match spot_db::DbError::from(error) {
        spot_db::DbError::AlreadyExists(_) => {
            Status::already_exists("a cluster with this name is already registered in this region")
        }
        other => spot_error::ServiceError::into_status(other),
    }
}

impl ClusterApi {
    /// Stores the cluster and has auth issue its agent key; on failure nothing is left behind.
    pub(crate) async fn register(
        &self,
        tenant_id: &str,
        name: &str,
        region: &str,
        aws_account_id: Option<String>,
    ) -> Result<Registered, Status> {
        check_name(name)?;
        Catalog::embedded()
            .check_region(region)
            .map_err(|e| Status::invalid_argument(format!("invalid `region`: {e}")))?;
        let limit = self.ctx.config.limits.clusters_per_tenant;
        let exhausted = |registered: u64| {
            Status::resource_exhausted(format!(
                "your tenant has {registered} clusters, the most it may have (limits.clusters_per_tenant = {limit}): remove one first"
            ))
        };
        let db = self.ctx.db.connection();
        let tenant_clusters =
            || clusters::Entity::find().filter(clusters::Column::TenantId.eq(tenant_id));
        let registered = tenant_clusters().count(db).await.map_err(db_error)?;
        if registered >= limit {
            return Err(exhausted(registered));
        }
        let cluster = clusters::ActiveModel {
            id: Set(uuid::Uuid::now_v7().simple().to_string()),
            tenant_id: Set(tenant_id.to_owned()),
            name: Set(name.to_owned()),
            region: Set(region.to_owned()),
            aws_account_id: Set(aws_account_id),
            dry_run: Set(false),
            created_at: Set(chrono::Utc::now().timestamp_millis()),
        }
        .insert(db)
        .await
        .map_err(db_error)?;
        // Concurrent registrations may all have counted room for one more: each counts again
        // after its insert and withdraws if the tenant is over. The last of any set to count
        // sees them all, so the limit holds on any backend without a lock; a burst at the limit
        // may refuse one that would have fit (its caller is told and can retry).
        let registered = tenant_clusters().count(db).await.map_err(db_error)?;
        if registered > limit {
            clusters::Entity::delete_by_id(&cluster.id)
                .exec(db)
                .await
                .map_err(db_error)?;
            return Err(exhausted(limit));
        }
        let channel = self
            .ctx
            .clients
            .channel(ServiceName::Auth)
            .ok_or_else(|| Status::unavailable("auth is not reachable"))?;
        let issued = ApiKeyServiceClient::new(channel)
            .issue_agent_key(IssueAgentKeyRequest {
                tenant_id: tenant_id.to_owned(),
                cluster_id: cluster.id.clone(),
                name: format!("agent of {name}"),
            })
            .await;
        let secret = match issued {
            Ok(response) => response.into_inner().secret,
            Err(status) => {
                let _ = clusters::Entity::delete_by_id(&cluster.id)
                    .exec(self.ctx.db.connection())
                    .await;
                return Err(Status::unavailable(format!(
                    "the agent key could not be issued: {}",
                    status.message()
                )));
            }
        };
        // How its new nodes will boot, from how its current ones did (shown for review).
        self.import_node_class(&cluster).await;
        let control_plane = match &self.ctx.config.public_url {
            Some(url) => url.clone(),
            None => self
                .ctx
                .config
                .url_of(ServiceName::Cluster)
                .unwrap_or_default(),
        };
        // The key goes into a Secret read from the terminal, never onto a command line (shell
        // history) or into the release's values; the chart reads `spot-agent-key` by default.
        let install_command = format!(
            "kubectl create namespace spot-system\n\
             read -rs SPOT_AGENT_KEY  # paste the agent key\n\
             printf %s \"$SPOT_AGENT_KEY\" | kubectl -n spot-system create secret generic \
             spot-agent-key --from-file=api-key=/dev/stdin\n\
             helm upgrade --install spot-agent oci://ghcr.io/spot-optimizer/charts/spot-agent \
             --namespace spot-system --set clusterId={} --set controlPlane={control_plane}",
            cluster.id
        );
        Ok(Registered {
            cluster,
            agent_key: secret,
            install_command,
        })
    }

    pub(crate) async fn tenant_cluster(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<clusters::Model, Status> {
        clusters::Entity::find_by_id(id)
            .filter(clusters::Column::TenantId.eq(tenant_id))
            .one(self.ctx.db.connection())
            .await
            .map_err(db_error)?
            .ok_or_else(|| Status::not_found("cluster not found"))
    }
}

#[tonic::async_trait]
impl ClusterService for ClusterApi {
    async fn register_cluster(
        &self,
        request: Request<pb::RegisterClusterRequest>,
    ) -> Result<Response<pb::RegisterClusterResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let account = match request.aws_account_id.as_str() {
            "" => None,
            id => Some(
                aws_accounts::Entity::find_by_id(id)
                    .filter(aws_accounts::Column::TenantId.eq(&tenant_id))
                    .one(self.ctx.db.connection())
                    .await
                    .map_err(db_error)?
                    .ok_or_else(|| Status::not_found("AWS account not found"))?
                    .id,
            ),
        };
        let registered = self
            .register(&tenant_id, &request.name, &request.region, account)
            .await?;
        Ok(
            AuditNote::target(format!("cluster/{}", registered.cluster.id)).attach(Response::new(
                pb::RegisterClusterResponse {
                    cluster: Some(to_proto(&registered.cluster)),
                    agent_key: registered.agent_key,
                    install_command: registered.install_command,
                },
            )),
        )
    }

    async fn list_clusters(
        &self,
        request: Request<pb::ListClustersRequest>,
    ) -> Result<Response<pb::ListClustersResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let rows = clusters::Entity::find()
            .filter(clusters::Column::TenantId.eq(&tenant_id))
            .order_by_asc(clusters::Column::CreatedAt)
            .all(self.ctx.db.connection())
            .await
            .map_err(db_error)?;
        Ok(Response::new(pb::ListClustersResponse {
            clusters: rows.iter().map(to_proto).collect(),
            page: Some(spot_proto::common::v1::PageResponse::default()),
        }))
    }

    async fn get_cluster(
        &self,
        request: Request<pb::GetClusterRequest>,
    ) -> Result<Response<pb::GetClusterResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let cluster = self
            .tenant_cluster(&tenant_id, &request.into_inner().cluster_id)
            .await?;
        Ok(Response::new(pb::GetClusterResponse {
            cluster: Some(to_proto(&cluster)),
        }))
    }

    async fn list_nodes(
        &self,
        request: Request<pb::ListNodesRequest>,
    ) -> Result<Response<pb::ListNodesResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let cluster = self.tenant_cluster(&tenant_id, &request.cluster_id).await?;
        let size = page::size(request.page.as_ref());
        let after = page::cursor(request.page.as_ref())?;
        let nodes = self
            .inventory
            .nodes(&cluster.id, after, Some(size + 1))
            .await?;
        let (nodes, page) = page::split(nodes, size, |n| n.name.clone());
        Ok(Response::new(pb::ListNodesResponse {
            nodes,
            page: Some(page),
        }))
    }

    async fn list_pods(
        &self,
        request: Request<pb::ListPodsRequest>,
    ) -> Result<Response<pb::ListPodsResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let cluster = self.tenant_cluster(&tenant_id, &request.cluster_id).await?;
        let size = page::size(request.page.as_ref());
        let after = page::cursor(request.page.as_ref())?;
        let pods = self
            .inventory
            .pods(&cluster.id, after, Some(size + 1))
            .await?;
        let (pods, page) = page::split(pods, size, |p| pod_key(&p.namespace, &p.name));
        Ok(Response::new(pb::ListPodsResponse {
            pods,
            page: Some(page),
        }))
    }

    async fn get_agent_status(
        &self,
        request: Request<pb::GetAgentStatusRequest>,
    ) -> Result<Response<pb::GetAgentStatusResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let cluster = self
            .tenant_cluster(&tenant_id, &request.into_inner().cluster_id)
            .await?;
        let response = match self.presence.get(&cluster.id).await {
            Some(presence) => pb::GetAgentStatusResponse {
                connected: true,
                last_heartbeat_at: Some(timestamp(presence.last_heartbeat_at)),
                agent_version: presence.agent_version,
                kubernetes_version: presence.kubernetes_version,
            },
            None => pb::GetAgentStatusResponse::default(),
        };
        Ok(Response::new(response))
    }

    async fn list_cluster_events(
        &self,
        request: Request<pb::ListClusterEventsRequest>,
    ) -> Result<Response<pb::ListClusterEventsResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let cluster = self.tenant_cluster(&tenant_id, &request.cluster_id).await?;
        let size = page::size(request.page.as_ref());
        let before = page::cursor(request.page.as_ref())?;
        let events = self.events.list(&cluster.id, before, size + 1).await?;
        let (events, page) = page::split(events, size, |e| e.id.clone());
        Ok(Response::new(pb::ListClusterEventsResponse {
            events,
            page: Some(page),
        }))
    }

    async fn watch_cluster(
        &self,
        request: Request<pb::WatchClusterRequest>,
    ) -> Result<Response<WatchStream<pb::WatchClusterResponse>>, Status> {
        let tenant_id = tenant(&request)?;
        let cluster = self
            .tenant_cluster(&tenant_id, &request.into_inner().cluster_id)
            .await?;
        let stream = self
            .watch(CLUSTER_EVENTS_TOPIC, move |event| {
                (event.cluster_id == cluster.id)
                    .then_some(pb::WatchClusterResponse { event: Some(event) })
            })
            .await?;
        Ok(Response::new(stream))
    }

    async fn list_actions(
        &self,
        request: Request<pb::ListActionsRequest>,
    ) -> Result<Response<pb::ListActionsResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let cluster = self.tenant_cluster(&tenant_id, &request.cluster_id).await?;
        let size = page::size(request.page.as_ref());
        let before = page::cursor(request.page.as_ref())?;
        let rows = self.outbox.list(&cluster.id, before, size + 1).await?;
        let (rows, page) = page::split(rows, size, |r| r.id.clone());
        Ok(Response::new(pb::ListActionsResponse {
            actions: rows.iter().map(outbox::to_proto).collect(),
            page: Some(page),
        }))
    }

    async fn watch_actions(
        &self,
        request: Request<pb::WatchActionsRequest>,
    ) -> Result<Response<WatchStream<pb::WatchActionsResponse>>, Status> {
        let tenant_id = tenant(&request)?;
        let cluster = self
            .tenant_cluster(&tenant_id, &request.into_inner().cluster_id)
            .await?;
        let stream = self
            .watch(CLUSTER_ACTIONS, move |action| {
                (action.cluster_id == cluster.id).then_some(pb::WatchActionsResponse {
                    action: Some(action),
                })
            })
            .await?;
        Ok(Response::new(stream))
    }

    async fn submit_action(
        &self,
        request: Request<pb::SubmitActionRequest>,
    ) -> Result<Response<pb::SubmitActionResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let cluster = self.tenant_cluster(&tenant_id, &request.cluster_id).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let action = Action {
            id: String::new(),
            kind: request.kind,
            node_name: request.node_name,
            labels: request.labels,
            taints: request.taints,
            deadline: deadline_in(request.deadline_seconds, now)?,
            attempt: 0,
            remove_taint_keys: request.remove_taint_keys,
        };
        let note = AuditNote::target(format!("cluster/{}", cluster.id));
        let (note, row) = match self.route_action(&cluster, None, action).await? {
            Executed::Action(row) => (note, row),
            Executed::Refused {
                reason,
                action: Some(row),
            } => (note.refused(&reason), row),
            Executed::Refused { reason, .. } => return Err(Status::failed_precondition(reason)),
            Executed::Cloud { .. } => {
                return Err(Status::internal("an action ran as a cloud step"));
            }
        };
        Ok(note.attach(Response::new(pb::SubmitActionResponse {
            action: Some(outbox::to_proto(&row)),
        })))
    }

    async fn set_cluster_dry_run(
        &self,
        request: Request<pb::SetClusterDryRunRequest>,
    ) -> Result<Response<pb::SetClusterDryRunResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let cluster = self.tenant_cluster(&tenant_id, &request.cluster_id).await?;
        let mut row: clusters::ActiveModel = cluster.into();
        row.dry_run = Set(request.dry_run);
        let cluster = row
            .update(self.ctx.db.connection())
            .await
            .map_err(db_error)?;
        self.events
            .record(
                &cluster.id,
                crate::events::kind::CONFIG,
                format!("dry-run {}", if cluster.dry_run { "on" } else { "off" }),
            )
            .await?;
        let cluster = to_proto(&cluster);
        self.hub.reconfigure(&cluster).await;
        Ok(
            AuditNote::target(format!("cluster/{}", cluster.id)).attach(Response::new(
                pb::SetClusterDryRunResponse {
                    cluster: Some(cluster),
                },
            )),
        )
    }
}

/// A server stream fed from a bus topic.
pub type WatchStream<T> = tonic::codegen::BoxStream<T>;

impl ClusterApi {
    /// Streams the topic's messages that `select` keeps, until the client leaves or shutdown.
    async fn watch<M: prost::Message + Default + 'static, T: Send + 'static>(
        &self,
        topic: Topic<M>,
        select: impl Fn(M) -> Option<T> + Send + 'static,
    ) -> Result<WatchStream<T>, Status> {
        use futures::StreamExt;
        let subscription = topic
            .subscribe(self.ctx.bus.as_ref())
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        let shutdown = self.ctx.shutdown.clone();
        let stream = subscription
            .filter_map(move |message| std::future::ready(select(message).map(Ok)))
            .take_until(async move { shutdown.cancelled().await });
        Ok(Box::pin(stream))
    }
}
