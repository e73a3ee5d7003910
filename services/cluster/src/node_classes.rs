//! Node classes: stored per cluster (and one per tenant as the default), imported at adoption,
//! checked against the linked account at save time, and resolved into a launch spec for every
//! launch of the cluster.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use spot_cloud::node_class::architecture_name;
use spot_cloud::{
    AmiFamily, Architecture, CloudProvider, FieldError, LaunchSpec, NodeClass, NodeClassError,
    Selector,
};
use spot_config::ServiceName;
use spot_proto::cluster::v1 as pb;
use spot_proto::common::v1 as common;
use spot_proto::policy::v1::ResolvePolicyRequest;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tonic::Status;

use crate::ClusterApi;
use crate::common::{db_status, timestamp};
use crate::entity::{clusters, node_classes};

/// Derived from the cluster's nodes when it was registered or adopted.
pub const IMPORTED: &str = "imported";
/// Saved by a user (or their automation).
pub const SAVED: &str = "saved";

fn selector_from(selector: Option<pb::ResourceSelector>) -> Selector {
    let selector = selector.unwrap_or_default();
    Selector {
        ids: selector.ids,
        tags: selector.tags.into_iter().collect(),
    }
}

fn selector_to(selector: &Selector) -> pb::ResourceSelector {
    pb::ResourceSelector {
        ids: selector.ids.clone(),
        tags: selector.tags.clone().into_iter().collect(),
    }
}

/// The class a request carries; a family the platform does not know is a field error.
pub fn from_proto(class: pb::NodeClass) -> Result<NodeClass, Vec<FieldError>> {
    let family = match class.ami_family.as_str() {
        "" => AmiFamily::Al2023,
        name => AmiFamily::parse(name).ok_or_else(|| {
            vec![FieldError::new(
                "ami_family",
                format!("`{name}` is not a family: al2023 or bottlerocket"),
            )]
        })?,
    };
    Ok(NodeClass {
        subnets: selector_from(class.subnets),
        security_groups: selector_from(class.security_groups),
        instance_profile: class.instance_profile,
        ami_family: family,
        ami_ids: class.ami_ids.into_iter().collect(),
        user_data: class.user_data,
        // Settings left out take the defaults a new class starts with.
        root_volume_gib: if class.root_volume_gib == 0 {
            DEFAULT.root_volume_gib
        } else {
            class.root_volume_gib
        },
        root_volume_type: if class.root_volume_type.is_empty() {
            DEFAULT.root_volume_type.to_owned()
        } else {
            class.root_volume_type
        },
        metadata_hop_limit: if class.metadata_hop_limit == 0 {
            DEFAULT.metadata_hop_limit
        } else {
            class.metadata_hop_limit
        },
        tags: class.tags.into_iter().collect(),
    })
}

/// What a class's unset volume and metadata settings default to.
struct Defaults {
    root_volume_gib: u32,
    root_volume_type: &'static str,
    metadata_hop_limit: u32,
}

const DEFAULT: Defaults = Defaults {
    root_volume_gib: 20,
    root_volume_type: "gp3",
    metadata_hop_limit: 1,
};

pub fn to_proto(row: &node_classes::Model) -> pb::NodeClass {
    let class = parse(row);
    pb::NodeClass {
        cluster_id: row.cluster_id.clone(),
        subnets: Some(selector_to(&class.subnets)),
        security_groups: Some(selector_to(&class.security_groups)),
        instance_profile: class.instance_profile,
        ami_family: class.ami_family.name().to_owned(),
        ami_ids: class.ami_ids.into_iter().collect(),
        user_data: class.user_data,
        root_volume_gib: class.root_volume_gib,
        root_volume_type: class.root_volume_type,
        metadata_hop_limit: class.metadata_hop_limit,
        tags: class.tags.into_iter().collect(),
        source: row.source.clone(),
        version: row.version,
        updated_at: Some(timestamp(row.updated_at)),
        updated_by: row.updated_by.clone(),
    }
}

/// The stored class (rows are written only from checked classes).
pub fn parse(row: &node_classes::Model) -> NodeClass {
    serde_json::from_str(&row.spec)
        .unwrap_or_else(|_| NodeClass::discovery_default("", "unreadable-stored-class"))
}

pub fn resolved_to_proto(spec: &LaunchSpec) -> pb::ResolvedNodeClass {
    pb::ResolvedNodeClass {
        subnets_by_zone: spec.subnets.clone().into_iter().collect(),
        security_group_ids: spec.security_group_ids.clone(),
        instance_profile_arn: spec.instance_profile_arn.clone(),
        images_by_architecture: spec
            .images
            .iter()
            .map(|(arch, image)| {
                (
                    spot_cloud::node_class::architecture_name(*arch).to_owned(),
                    image.clone(),
                )
            })
            .collect(),
    }
}

pub fn violations(errors: &[FieldError]) -> Vec<pb::NodeClassViolation> {
    errors
        .iter()
        .map(|e| pb::NodeClassViolation {
            field: e.field.clone(),
            description: e.reason.clone(),
        })
        .collect()
}

/// Field errors as one InvalidArgument naming each field.
pub fn invalid(errors: &[FieldError]) -> Status {
    Status::invalid_argument(node_classes_errors(errors))
}

fn node_classes_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A class that the account could not be asked about.
fn unreachable(error: &NodeClassError) -> Status {
    Status::unavailable(format!(
        "the linked AWS account could not check the node class: {error}"
    ))
}

fn zones_json(resolved: Option<&LaunchSpec>) -> String {
    let zones: Vec<&String> = resolved
        .map(|s| s.subnets.keys().collect())
        .unwrap_or_default();
    serde_json::to_string(&zones).unwrap_or_else(|_| "[]".to_owned())
}

/// The zones the class could launch in when it was last resolved (empty: not known).
pub fn zones(row: &node_classes::Model) -> Vec<String> {
    serde_json::from_str(&row.zones).unwrap_or_default()
}

fn architectures_json(resolved: Option<&LaunchSpec>) -> String {
    let architectures: Vec<&str> = resolved
        .map(|s| {
            s.images
                .keys()
                .map(|arch| spot_cloud::node_class::architecture_name(*arch))
                .collect()
        })
        .unwrap_or_default();
    serde_json::to_string(&architectures).unwrap_or_else(|_| "[]".to_owned())
}

/// The architectures the class had images for when it was last resolved (empty: not known).
pub fn architectures(row: &node_classes::Model) -> Vec<String> {
    serde_json::from_str(&row.architectures).unwrap_or_default()
}

fn names<'a>(architectures: impl Iterator<Item = &'a Architecture>) -> String {
    architectures
        .map(|a| architecture_name(*a))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// A class must have an image for an architecture the cluster's policy admits, or the platform
/// could launch nothing the policy allows. Nothing admitted at all is the policy's own problem,
/// shown on the policy, not a reason to refuse the class.
pub fn against_policy(
    class: &NodeClass,
    spec: &LaunchSpec,
    admitted: &[Architecture],
) -> Result<(), FieldError> {
    if admitted.is_empty() || spec.images.keys().any(|a| admitted.contains(a)) {
        return Ok(());
    }
    let field = if class.ami_ids.is_empty() {
        "ami_family"
    } else {
        "ami_ids"
    };
    Err(FieldError::new(
        field,
        format!(
            "the cluster's policy admits only {} nodes and this class has images for {} only: add an image for one the policy admits, or change the policy's architectures",
            names(admitted.iter()),
            names(spec.images.keys()),
        ),
    ))
}

/// The fields of one row to write.
pub struct NewClass<'a> {
    pub tenant_id: &'a str,
    pub cluster_id: &'a str,
    pub class: &'a NodeClass,
    /// What it resolved to, if it was resolved (a tenant's default is not).
    pub resolved: Option<&'a LaunchSpec>,
    pub source: &'a str,
    pub updated_by: &'a str,
}

impl ClusterApi {
    async fn stored_class(
        &self,
        tenant_id: &str,
        cluster_id: &str,
    ) -> Result<Option<node_classes::Model>, Status> {
        node_classes::Entity::find()
            .filter(node_classes::Column::TenantId.eq(tenant_id))
            .filter(node_classes::Column::ClusterId.eq(cluster_id))
            .one(self.ctx.db.connection())
            .await
            .map_err(db_status)
    }

    /// The class in force for `cluster`: its own, else the tenant's default; `true` when inherited.
    pub(crate) async fn node_class_in_force(
        &self,
        cluster: &clusters::Model,
    ) -> Result<Option<(node_classes::Model, bool)>, Status> {
        if let Some(own) = self.stored_class(&cluster.tenant_id, &cluster.id).await? {
            return Ok(Some((own, false)));
        }
        Ok(self
            .stored_class(&cluster.tenant_id, "")
            .await?
            .map(|default| (default, true)))
    }

    pub(crate) async fn list_node_classes(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<node_classes::Model>, Status> {
        node_classes::Entity::find()
            .filter(node_classes::Column::TenantId.eq(tenant_id))
            .order_by_asc(node_classes::Column::ClusterId)
            .all(self.ctx.db.connection())
            .await
            .map_err(db_status)
    }

    /// Checks `class` for `cluster` against its account and the cluster's policy: what it
    /// resolves to, or field errors.
    pub(crate) async fn check_node_class(
        &self,
        cluster: Option<&clusters::Model>,
        class: &NodeClass,
    ) -> Result<Result<Option<LaunchSpec>, Vec<FieldError>>, Status> {
        let (cluster, spec) = match (cluster, self.resolve_in_account(cluster, class).await?) {
            (Some(cluster), Ok(Some(spec))) => (cluster, spec),
            (_, unresolved) => return Ok(unresolved),
        };
        let admitted = self.admitted_architectures(cluster).await?;
        Ok(against_policy(class, &spec, &admitted)
            .map(|()| Some(spec))
            .map_err(|error| vec![error]))
    }

    /// What `class` resolves to in `cluster`'s account, or field errors; a tenant's default
    /// (no cluster) is only checked offline, as it is resolved per cluster at launch.
    async fn resolve_in_account(
        &self,
        cluster: Option<&clusters::Model>,
        class: &NodeClass,
    ) -> Result<Result<Option<LaunchSpec>, Vec<FieldError>>, Status> {
        let offline = class.check();
        if !offline.is_empty() {
            return Ok(Err(offline));
        }
        let Some(cluster) = cluster else {
            return Ok(Ok(None));
        };
        let cloud = self.cloud_for(cluster).await?;
        match cloud
            .resolve_node_class(&cluster.region, &cluster.name, class)
            .await
        {
            Ok(spec) => Ok(Ok(Some(spec))),
            Err(NodeClassError::Invalid(errors)) => Ok(Err(errors)),
            Err(error) => Err(unreachable(&error)),
        }
    }

    /// The architectures the policy in force for `cluster` admits in its region.
    async fn admitted_architectures(
        &self,
        cluster: &clusters::Model,
    ) -> Result<Vec<Architecture>, Status> {
        let channel = self
            .ctx
            .clients
            .channel(ServiceName::Policy)
            .ok_or_else(|| Status::unavailable("the policy service is not reachable"))?;
        let resolved = PolicyServiceClient::new(channel)
            .resolve_policy(ResolvePolicyRequest {
                tenant_id: cluster.tenant_id.clone(),
                cluster_id: cluster.id.clone(),
                region: cluster.region.clone(),
            })
            .await?
            .into_inner();
        Ok(resolved
            .admitted_architectures()
            .filter_map(|a| match a {
                common::Architecture::Amd64 => Some(Architecture::Amd64),
                common::Architecture::Arm64 => Some(Architecture::Arm64),
                common::Architecture::Unspecified => None,
            })
            .collect())
    }

    /// Writes a checked class: a new row, or the next version of the existing one.
    pub(crate) async fn write_node_class(
        &self,
        new: NewClass<'_>,
        existing: Option<node_classes::Model>,
    ) -> Result<node_classes::Model, Status> {
        let spec = serde_json::to_string(new.class).map_err(|e| Status::internal(e.to_string()))?;
        let zones = zones_json(new.resolved);
        let architectures = architectures_json(new.resolved);
        let now = chrono::Utc::now().timestamp_millis();
        let row = match existing {
            Some(existing) => {
                let version = existing.version + 1;
                let mut row: node_classes::ActiveModel = existing.into();
                row.spec = Set(spec);
                row.zones = Set(zones);
                row.architectures = Set(architectures);
                row.source = Set(new.source.to_owned());
                row.version = Set(version);
                row.updated_by = Set(new.updated_by.to_owned());
                row.updated_at = Set(now);
                row.update(self.ctx.db.connection()).await
            }
            None => {
                node_classes::ActiveModel {
                    id: Set(uuid::Uuid::new_v4().to_string()),
                    tenant_id: Set(new.tenant_id.to_owned()),
                    cluster_id: Set(new.cluster_id.to_owned()),
                    spec: Set(spec),
                    zones: Set(zones),
                    architectures: Set(architectures),
                    source: Set(new.source.to_owned()),
                    version: Set(1),
                    updated_by: Set(new.updated_by.to_owned()),
                    updated_at: Set(now),
                }
                .insert(self.ctx.db.connection())
                .await
            }
        };
        row.map_err(db_status)
    }

    pub(crate) async fn delete_node_class(&self, row: node_classes::Model) -> Result<(), Status> {
        node_classes::Entity::delete_by_id(row.id)
            .exec(self.ctx.db.connection())
            .await
            .map_err(db_status)?;
        Ok(())
    }

    /// Imports a class from the cluster's nodes when it is registered (or adopted); a cluster
    /// with nothing to import from, or no linked account, keeps none (its launches then say a
    /// class is needed). Never fails the registration.
    pub(crate) async fn import_node_class(&self, cluster: &clusters::Model) {
        // A tenant that set a default chose how its clusters' nodes boot.
        match self.stored_class(&cluster.tenant_id, "").await {
            Ok(None) => {}
            Ok(Some(_)) => return,
            Err(status) => {
                tracing::warn!(cluster = %cluster.id, %status, "no node class imported");
                return;
            }
        }
        let imported = async {
            let cloud = self.cloud_for(cluster).await?;
            match cloud
                .import_node_class(&cluster.region, &cluster.name)
                .await
            {
                Ok(class) => Ok(Some(class)),
                Err(error) => {
                    tracing::info!(cluster = %cluster.id, %error, "no node class imported");
                    Ok(None)
                }
            }
        };
        let class = match imported.await {
            Ok(Some(class)) => class,
            Ok(None) => return,
            Err::<_, Status>(status) => {
                tracing::warn!(cluster = %cluster.id, %status, "no node class imported");
                return;
            }
        };
        // Kept for review even when it does not resolve (launches then say why), and whatever
        // the policy admits: it is how the cluster's nodes boot today.
        let resolved = match self.resolve_in_account(Some(cluster), &class).await {
            Ok(Ok(resolved)) => resolved,
            Ok(Err(errors)) => {
                tracing::info!(cluster = %cluster.id, errors = %node_classes_errors(&errors), "the imported node class does not resolve");
                None
            }
            Err(status) => {
                tracing::warn!(cluster = %cluster.id, %status, "the imported node class was not checked");
                None
            }
        };
        let written = self
            .write_node_class(
                NewClass {
                    tenant_id: &cluster.tenant_id,
                    cluster_id: &cluster.id,
                    class: &class,
                    resolved: resolved.as_ref(),
                    source: IMPORTED,
                    updated_by: "import",
                },
                None,
            )
            .await;
        if let Err(status) = written {
            tracing::warn!(cluster = %cluster.id, %status, "the imported node class was not stored");
        }
    }

    /// What a launch of `cluster`'s nodes uses: the class in force, resolved in the account.
    /// Why the cluster cannot launch, as FailedPrecondition, when it has none or it does not
    /// resolve.
    pub(crate) async fn launch_spec(
        &self,
        cloud: &dyn CloudProvider,
        cluster: &clusters::Model,
    ) -> Result<LaunchSpec, Status> {
        let Some((row, inherited)) = self.node_class_in_force(cluster).await? else {
            return Err(Status::failed_precondition(format!(
                "cluster `{}` has no node class: save one (NodeClassService) so the platform knows how its nodes boot",
                cluster.name
            )));
        };
        let spec = cloud
            .resolve_node_class(&cluster.region, &cluster.name, &parse(&row))
            .await
            .map_err(|error| match error {
                NodeClassError::Invalid(_) => Status::failed_precondition(format!(
                    "cluster `{}`'s node class no longer resolves in its account: {error}",
                    cluster.name
                )),
                other => unreachable(&other),
            })?;
        // Subnets chosen by tags come and go, and a family's images with them: where and on what
        // the optimizer plans follows.
        let zones = zones_json(Some(&spec));
        let architectures = architectures_json(Some(&spec));
        // A tenant's default serves clusters in other VPCs and regions: only a cluster's own
        // class keeps where it resolved.
        if !inherited && (zones != row.zones || architectures != row.architectures) {
            let mut updated: node_classes::ActiveModel = row.into();
            updated.zones = Set(zones);
            updated.architectures = Set(architectures);
            updated
                .update(self.ctx.db.connection())
                .await
                .map_err(db_status)?;
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn spec_with(images: &[Architecture]) -> LaunchSpec {
        LaunchSpec {
            subnets: BTreeMap::new(),
            security_group_ids: Vec::new(),
            instance_profile_arn: String::new(),
            images: images
                .iter()
                .map(|a| (*a, format!("ami-{}", architecture_name(*a))))
                .collect(),
            user_data: String::new(),
            root_device: "/dev/xvda".to_owned(),
            root_volume_gib: 20,
            root_volume_type: "gp3".to_owned(),
            metadata_hop_limit: 1,
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn a_class_must_have_an_image_the_policy_admits() {
        let family = NodeClass::discovery_default("shop", "spot-node");
        let x86 = spec_with(&[Architecture::Amd64]);
        let both = spec_with(&[Architecture::Amd64, Architecture::Arm64]);

        assert!(against_policy(&family, &both, &[Architecture::Arm64]).is_ok());
        assert!(against_policy(&family, &x86, &[Architecture::Amd64]).is_ok());
        // A policy admitting nothing is refused on the policy, not here.
        assert!(against_policy(&family, &x86, &[]).is_ok());

        let refused = against_policy(&family, &x86, &[Architecture::Arm64]).unwrap_err();
        assert_eq!(refused.field, "node_class.ami_family");
        assert!(refused.reason.contains("admits only arm64"), "{refused}");
        assert!(
            refused.reason.contains("images for amd64 only"),
            "{refused}"
        );

        let explicit = NodeClass {
            ami_ids: BTreeMap::from([("amd64".to_owned(), "ami-0abc".to_owned())]),
            ..family
        };
        let refused = against_policy(&explicit, &x86, &[Architecture::Arm64]).unwrap_err();
        assert_eq!(refused.field, "node_class.ami_ids");
    }
}
