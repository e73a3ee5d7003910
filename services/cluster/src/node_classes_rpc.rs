//! NodeClassService: a cluster's node class (or the tenant's default), saved only once it checks
//! out against the linked account, so a refused change leaves the previous class in force.

use spot_access::{AuditNote, caller};
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::node_class_service_server::NodeClassService;
use tonic::{Request, Response, Status};

use crate::ClusterApi;
use crate::common::tenant;
use crate::entity::clusters;
use crate::node_classes::{self, NewClass, SAVED};

fn required(class: Option<pb::NodeClass>) -> Result<pb::NodeClass, Status> {
    class.ok_or_else(|| Status::invalid_argument("invalid `node_class`: required"))
}

fn target(tenant_id: &str, cluster_id: &str) -> String {
    if cluster_id.is_empty() {
        format!("tenant/{tenant_id}/node-class")
    } else {
        format!("cluster/{cluster_id}/node-class")
    }
}

fn who<T>(request: &Request<T>) -> String {
    caller(request)
        .map(|c| {
            let (kind, id) = c.audit_identity();
            format!("{kind}/{id}")
        })
        .unwrap_or_default()
}

impl ClusterApi {
    /// The tenant's cluster `cluster_id` names (none for the tenant's default).
    async fn class_owner(
        &self,
        tenant_id: &str,
        cluster_id: &str,
    ) -> Result<Option<clusters::Model>, Status> {
        if cluster_id.is_empty() {
            return Ok(None);
        }
        self.tenant_cluster(tenant_id, cluster_id).await.map(Some)
    }

    /// Checks and writes a class; `create` refuses an existing one, an update a missing one.
    async fn save_class<T>(
        &self,
        request: &Request<T>,
        class: pb::NodeClass,
        create: bool,
        expected_version: i32,
    ) -> Result<(pb::NodeClass, Option<pb::ResolvedNodeClass>), Status> {
        let tenant_id = tenant(request)?;
        let cluster_id = class.cluster_id.clone();
        let owner = self.class_owner(&tenant_id, &cluster_id).await?;
        let existing = self
            .list_node_classes(&tenant_id)
            .await?
            .into_iter()
            .find(|row| row.cluster_id == cluster_id);
        match (&existing, create) {
            (Some(_), true) => {
                return Err(Status::already_exists(
                    "this node class exists: update it instead",
                ));
            }
            (None, false) => return Err(Status::not_found("node class not found")),
            (Some(row), false) if expected_version != 0 && row.version != expected_version => {
                return Err(Status::aborted(format!(
                    "the node class changed meanwhile (version {}, not {expected_version}): reload it",
                    row.version
                )));
            }
            _ => {}
        }
        let class = node_classes::from_proto(class).map_err(|e| node_classes::invalid(&e))?;
        let spec = self
            .check_node_class(owner.as_ref(), &class)
            .await?
            .map_err(|e| node_classes::invalid(&e))?;
        let updated_by = who(request);
        let row = self
            .write_node_class(
                NewClass {
                    tenant_id: &tenant_id,
                    cluster_id: &cluster_id,
                    class: &class,
                    resolved: spec.as_ref(),
                    source: SAVED,
                    updated_by: &updated_by,
                },
                existing,
            )
            .await?;
        Ok((
            node_classes::to_proto(&row),
            spec.as_ref().map(node_classes::resolved_to_proto),
        ))
    }
}

#[tonic::async_trait]
impl NodeClassService for ClusterApi {
    async fn get_node_class(
        &self,
        request: Request<pb::GetNodeClassRequest>,
    ) -> Result<Response<pb::GetNodeClassResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let cluster_id = request.into_inner().cluster_id;
        let found = match self.class_owner(&tenant_id, &cluster_id).await? {
            Some(cluster) => self.node_class_in_force(&cluster).await?,
            None => self
                .list_node_classes(&tenant_id)
                .await?
                .into_iter()
                .find(|row| row.cluster_id.is_empty())
                .map(|row| (row, false)),
        };
        let (row, inherited) = found.ok_or_else(|| {
            Status::not_found(
                "no node class: the cluster has none of its own and the tenant has no default",
            )
        })?;
        Ok(Response::new(pb::GetNodeClassResponse {
            node_class: Some(node_classes::to_proto(&row)),
            inherited,
        }))
    }

    async fn list_node_classes(
        &self,
        request: Request<pb::ListNodeClassesRequest>,
    ) -> Result<Response<pb::ListNodeClassesResponse>, Status> {
        let tenant_id = tenant(&request)?;
        Ok(Response::new(pb::ListNodeClassesResponse {
            node_classes: self
                .list_node_classes(&tenant_id)
                .await?
                .iter()
                .map(node_classes::to_proto)
                .collect(),
        }))
    }

    async fn create_node_class(
        &self,
        request: Request<pb::CreateNodeClassRequest>,
    ) -> Result<Response<pb::CreateNodeClassResponse>, Status> {
        let class = required(request.get_ref().node_class.clone())?;
        let (class, resolved) = self.save_class(&request, class, true, 0).await?;
        let tenant_id = tenant(&request)?;
        Ok(
            AuditNote::target(target(&tenant_id, &class.cluster_id)).attach(Response::new(
                pb::CreateNodeClassResponse {
                    node_class: Some(class),
                    resolved,
                },
            )),
        )
    }

    async fn update_node_class(
        &self,
        request: Request<pb::UpdateNodeClassRequest>,
    ) -> Result<Response<pb::UpdateNodeClassResponse>, Status> {
        let class = required(request.get_ref().node_class.clone())?;
        let expected = request.get_ref().expected_version;
        let (class, resolved) = self.save_class(&request, class, false, expected).await?;
        let tenant_id = tenant(&request)?;
        Ok(
            AuditNote::target(target(&tenant_id, &class.cluster_id)).attach(Response::new(
                pb::UpdateNodeClassResponse {
                    node_class: Some(class),
                    resolved,
                },
            )),
        )
    }

    async fn delete_node_class(
        &self,
        request: Request<pb::DeleteNodeClassRequest>,
    ) -> Result<Response<pb::DeleteNodeClassResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let cluster_id = request.into_inner().cluster_id;
        self.class_owner(&tenant_id, &cluster_id).await?;
        let row = self
            .list_node_classes(&tenant_id)
            .await?
            .into_iter()
            .find(|row| row.cluster_id == cluster_id)
            .ok_or_else(|| Status::not_found("node class not found"))?;
        self.delete_node_class(row).await?;
        Ok(AuditNote::target(target(&tenant_id, &cluster_id))
            .attach(Response::new(pb::DeleteNodeClassResponse {})))
    }

    async fn validate_node_class(
        &self,
        request: Request<pb::ValidateNodeClassRequest>,
    ) -> Result<Response<pb::ValidateNodeClassResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let class = required(request.into_inner().node_class)?;
        let owner = self.class_owner(&tenant_id, &class.cluster_id).await?;
        let checked = match node_classes::from_proto(class) {
            Ok(class) => self.check_node_class(owner.as_ref(), &class).await?,
            Err(errors) => Err(errors),
        };
        Ok(Response::new(match checked {
            Ok(spec) => pb::ValidateNodeClassResponse {
                violations: Vec::new(),
                resolved: spec.as_ref().map(node_classes::resolved_to_proto),
            },
            Err(errors) => pb::ValidateNodeClassResponse {
                violations: node_classes::violations(&errors),
                resolved: None,
            },
        }))
    }
}
