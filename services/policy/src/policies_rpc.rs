//! PolicyService: one policy per cluster plus a tenant default, every change a new version with
//! who made it, validated field by field, previewed against the catalog, rolled back by copying
//! an old version forward. ResolvePolicy is the optimizer's (and, for the architectures a node class must cover, the
//! cluster service's) internal way in.

use spot_access::{AuditNote, Caller, caller, tenant};
use spot_kit::{ServiceContext, page};
use spot_proto::common::v1::{Actor, actor};
use spot_proto::policy::v1 as pb;
use spot_proto::policy::v1::policy_service_server::PolicyService;
use tonic::{Request, Response, Status};

use crate::store::PolicyStore;
use crate::templates::TemplateStore;
use crate::{admitted, announce, builtin, clusters, validate};

#[derive(Clone)]
pub struct Policies {
    ctx: ServiceContext,
    store: PolicyStore,
    templates: TemplateStore,
}

fn actor_of(caller: &Caller) -> Actor {
    let kind = match caller {
        Caller::User { user_id, .. } => Some(actor::Kind::UserId(user_id.clone())),
        Caller::ApiKey { key_id, .. } => Some(actor::Kind::ApiKeyId(key_id.clone())),
        Caller::Service { name } => Some(actor::Kind::Service(name.clone())),
        Caller::Anonymous => None,
    };
    Actor { kind }
}

fn audit_target(policy: &pb::Policy) -> String {
    let owner = if policy.cluster_id.is_empty() {
        "tenant-default".to_owned()
    } else {
        format!("cluster/{}", policy.cluster_id)
    };
    format!("policy/{owner}@v{}", policy.version)
}

impl Policies {
    pub fn new(ctx: &ServiceContext) -> Self {
        Self {
            ctx: ctx.clone(),
            store: PolicyStore::new(ctx.db.clone()),
            templates: TemplateStore::new(ctx.db.clone()),
        }
    }

    /// The cluster's region after checking it is the tenant's; None for the tenant default.
    async fn region(&self, tenant_id: &str, cluster_id: &str) -> Result<Option<String>, Status> {
        if cluster_id.is_empty() {
            return Ok(None);
        }
        clusters::region_of(&self.ctx, tenant_id, cluster_id)
            .await
            .map(Some)
    }

    /// Normalises the policy and returns what is wrong with it.
    async fn check(
        &self,
        tenant_id: &str,
        policy: &mut pb::Policy,
        region: Option<&str>,
    ) -> Result<Vec<pb::FieldViolation>, Status> {
        builtin::normalise(policy);
        let templates = self
            .templates
            .existing(tenant_id, &policy.node_template_ids)
            .await?;
        let checks = validate::Checks {
            region,
            templates: &templates,
            now: chrono::Utc::now(),
        };
        Ok(validate::violations(policy, &checks))
    }

    /// Saves, then tells the optimizer (a lost message only delays the re-plan to the next change).
    async fn save(
        &self,
        tenant_id: &str,
        mut policy: pb::Policy,
        by: &Caller,
    ) -> Result<pb::Policy, Status> {
        policy.changed_by = Some(actor_of(by));
        let saved = self.store.save(tenant_id, policy).await?;
        announce::policy_changed(&self.ctx, tenant_id, &saved).await;
        Ok(saved)
    }

    async fn effective(&self, tenant_id: &str, cluster_id: &str) -> Result<pb::Policy, Status> {
        Ok(self
            .store
            .effective(tenant_id, cluster_id)
            .await?
            .unwrap_or_else(builtin::policy))
    }
}

fn required(policy: Option<pb::Policy>) -> Result<pb::Policy, Status> {
    policy.ok_or_else(|| Status::invalid_argument("invalid `policy`: required"))
}

#[tonic::async_trait]
impl PolicyService for Policies {
    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::GetPolicyResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let cluster_id = request.into_inner().cluster_id;
        self.region(&tenant_id, &cluster_id).await?;
        let policy = self.effective(&tenant_id, &cluster_id).await?;
        Ok(Response::new(pb::GetPolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn update_policy(
        &self,
        request: Request<pb::UpdatePolicyRequest>,
    ) -> Result<Response<pb::UpdatePolicyResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let by = caller(&request)?.clone();
        let mut policy = required(request.into_inner().policy)?;
        let region = self.region(&tenant_id, &policy.cluster_id).await?;
        let violations = self
            .check(&tenant_id, &mut policy, region.as_deref())
            .await?;
        if !violations.is_empty() {
            return Err(validate::status(&violations));
        }
        let saved = self.save(&tenant_id, policy, &by).await?;
        Ok(
            AuditNote::target(audit_target(&saved)).attach(Response::new(
                pb::UpdatePolicyResponse {
                    policy: Some(saved),
                },
            )),
        )
    }

    async fn validate_policy(
        &self,
        request: Request<pb::ValidatePolicyRequest>,
    ) -> Result<Response<pb::ValidatePolicyResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let mut policy = required(request.policy)?;
        let cluster_region = self.region(&tenant_id, &policy.cluster_id).await?;
        let region = match request.region.as_str() {
            "" => cluster_region,
            region => {
                spot_cloud::Catalog::embedded()
                    .check_region(region)
                    .map_err(|e| Status::invalid_argument(format!("invalid `region`: {e}")))?;
                Some(region.to_owned())
            }
        };
        let violations = self
            .check(&tenant_id, &mut policy, region.as_deref())
            .await?;
        Ok(Response::new(pb::ValidatePolicyResponse { violations }))
    }

    async fn preview_policy(
        &self,
        request: Request<pb::PreviewPolicyRequest>,
    ) -> Result<Response<pb::PreviewPolicyResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let mut policy = required(request.policy)?;
        let cluster_region = self.region(&tenant_id, &policy.cluster_id).await?;
        let region = match (request.region.as_str(), cluster_region) {
            ("", Some(region)) => region,
            ("", None) => {
                return Err(Status::invalid_argument(
                    "invalid `region`: required to preview the tenant default",
                ));
            }
            (region, _) => region.to_owned(),
        };
        spot_cloud::Catalog::embedded()
            .check_region(&region)
            .map_err(|e| Status::invalid_argument(format!("invalid `region`: {e}")))?;
        builtin::normalise(&mut policy);
        let templates = self
            .templates
            .existing(&tenant_id, &policy.node_template_ids)
            .await?;
        let preview =
            tokio::task::spawn_blocking(move || admitted::preview(&policy, &templates, &region))
                .await
                .map_err(|_| Status::internal("the preview stopped"))?;
        Ok(Response::new(preview))
    }

    async fn list_policy_versions(
        &self,
        request: Request<pb::ListPolicyVersionsRequest>,
    ) -> Result<Response<pb::ListPolicyVersionsResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        self.region(&tenant_id, &request.cluster_id).await?;
        let size = page::size(request.page.as_ref());
        let before = page::cursor(request.page.as_ref())?
            .map(|token| {
                token.parse::<u32>().map_err(|_| {
                    Status::invalid_argument(
                        "invalid `page.page_token`: not a token this server returned",
                    )
                })
            })
            .transpose()?;
        let versions = self
            .store
            .versions(&tenant_id, &request.cluster_id, before, size + 1)
            .await?;
        let (versions, page) = page::split(versions, size, |p| p.version.to_string());
        Ok(Response::new(pb::ListPolicyVersionsResponse {
            versions,
            page: Some(page),
        }))
    }

    async fn rollback_policy(
        &self,
        request: Request<pb::RollbackPolicyRequest>,
    ) -> Result<Response<pb::RollbackPolicyResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let by = caller(&request)?.clone();
        let request = request.into_inner();
        let region = self.region(&tenant_id, &request.cluster_id).await?;
        let mut policy = self
            .store
            .version(&tenant_id, &request.cluster_id, request.version)
            .await?
            .ok_or_else(|| {
                Status::not_found(format!("policy version {} not found", request.version))
            })?;
        // What was valid then may not be now (a template deleted since, a region's catalog).
        let violations = self
            .check(&tenant_id, &mut policy, region.as_deref())
            .await?;
        if !violations.is_empty() {
            return Err(Status::failed_precondition(format!(
                "version {} no longer holds: {}",
                request.version,
                validate::message(&violations)
            )));
        }
        let saved = self.save(&tenant_id, policy, &by).await?;
        let note = AuditNote::target(format!(
            "{} (rollback to v{})",
            audit_target(&saved),
            request.version
        ));
        Ok(note.attach(Response::new(pb::RollbackPolicyResponse {
            policy: Some(saved),
        })))
    }

    async fn resolve_policy(
        &self,
        request: Request<pb::ResolvePolicyRequest>,
    ) -> Result<Response<pb::ResolvePolicyResponse>, Status> {
        let request = request.into_inner();
        if request.tenant_id.is_empty() {
            return Err(Status::invalid_argument("invalid `tenant_id`: required"));
        }
        let policy = self
            .effective(&request.tenant_id, &request.cluster_id)
            .await?;
        let mut templates = Vec::new();
        for id in &policy.node_template_ids {
            // A template deleted since (deletion is refused while a policy in force names it)
            // simply no longer applies.
            if let Ok(template) = self.templates.get(&request.tenant_id, id).await {
                templates.push(template);
            }
        }
        let admitted_architectures = if request.region.is_empty() {
            Vec::new()
        } else {
            let (policy, templates) = (policy.clone(), templates.clone());
            tokio::task::spawn_blocking(move || {
                admitted::architectures(&policy, &templates, &request.region)
            })
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .into_iter()
            .map(i32::from)
            .collect()
        };
        Ok(Response::new(pb::ResolvePolicyResponse {
            policy: Some(policy),
            templates,
            admitted_architectures,
        }))
    }
}
