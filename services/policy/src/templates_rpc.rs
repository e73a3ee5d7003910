//! NodeTemplateService: named requirements plus the labels and taints new nodes get, per tenant.
//! A template a policy in force uses cannot be deleted; changing one re-plans the clusters whose
//! policies use it (as a policy change does).

use spot_access::{AuditNote, tenant};
use spot_kit::{ServiceContext, page};
use spot_proto::policy::v1 as pb;
use spot_proto::policy::v1::node_template_service_server::NodeTemplateService;
use tonic::{Request, Response, Status};

use crate::announce;
use crate::store::PolicyStore;
use crate::template_checks;
use crate::templates::TemplateStore;
use crate::validate;

#[derive(Clone)]
pub struct Templates {
    ctx: ServiceContext,
    store: TemplateStore,
    policies: PolicyStore,
}

impl Templates {
    pub fn new(ctx: &ServiceContext) -> Self {
        Self {
            ctx: ctx.clone(),
            store: TemplateStore::new(ctx.db.clone()),
            policies: PolicyStore::new(ctx.db.clone()),
        }
    }

    /// Announces each policy that uses the template as changed, so the optimizer re-plans what
    /// it governs with the template as it is now (a lost message waits for the next re-plan).
    async fn announce_users(&self, tenant_id: &str, template_id: &str) -> Result<(), Status> {
        for policy in self.policies.using_template(tenant_id, template_id).await? {
            announce::policy_changed(&self.ctx, tenant_id, &policy).await;
        }
        Ok(())
    }
}

/// The template as sent, valid, or INVALID_ARGUMENT naming every wrong field.
fn checked(template: Option<pb::NodeTemplate>) -> Result<pb::NodeTemplate, Status> {
    let mut template =
        template.ok_or_else(|| Status::invalid_argument("invalid `template`: required"))?;
    template.name = template.name.trim().to_owned();
    let violations = template_checks::violations(&template);
    if violations.is_empty() {
        Ok(template)
    } else {
        Err(validate::status(&violations))
    }
}

fn target(template: &pb::NodeTemplate) -> AuditNote {
    AuditNote::target(format!("node-template/{} ({})", template.id, template.name))
}

#[tonic::async_trait]
impl NodeTemplateService for Templates {
    async fn create_node_template(
        &self,
        request: Request<pb::CreateNodeTemplateRequest>,
    ) -> Result<Response<pb::CreateNodeTemplateResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let template = checked(request.into_inner().template)?;
        let template = self.store.create(&tenant_id, template).await?;
        Ok(
            target(&template).attach(Response::new(pb::CreateNodeTemplateResponse {
                template: Some(template),
            })),
        )
    }

    async fn get_node_template(
        &self,
        request: Request<pb::GetNodeTemplateRequest>,
    ) -> Result<Response<pb::GetNodeTemplateResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let template = self.store.get(&tenant_id, &request.into_inner().id).await?;
        Ok(Response::new(pb::GetNodeTemplateResponse {
            template: Some(template),
        }))
    }

    async fn list_node_templates(
        &self,
        request: Request<pb::ListNodeTemplatesRequest>,
    ) -> Result<Response<pb::ListNodeTemplatesResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let size = page::size(request.page.as_ref());
        let after = page::cursor(request.page.as_ref())?;
        let templates = self.store.list(&tenant_id, after, size + 1).await?;
        let (templates, page) = page::split(templates, size, |t| t.id.clone());
        Ok(Response::new(pb::ListNodeTemplatesResponse {
            templates,
            page: Some(page),
        }))
    }

    async fn update_node_template(
        &self,
        request: Request<pb::UpdateNodeTemplateRequest>,
    ) -> Result<Response<pb::UpdateNodeTemplateResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let template = checked(request.into_inner().template)?;
        let template = self.store.update(&tenant_id, template).await?;
        self.announce_users(&tenant_id, &template.id).await?;
        Ok(
            target(&template).attach(Response::new(pb::UpdateNodeTemplateResponse {
                template: Some(template),
            })),
        )
    }

    async fn delete_node_template(
        &self,
        request: Request<pb::DeleteNodeTemplateRequest>,
    ) -> Result<Response<pb::DeleteNodeTemplateResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let id = request.into_inner().id;
        let template = self.store.get(&tenant_id, &id).await?;
        let users = self.policies.using_template(&tenant_id, &id).await?;
        if let Some(policy) = users.first() {
            let owner = if policy.cluster_id.is_empty() {
                "the tenant default policy".to_owned()
            } else {
                format!("the policy of cluster `{}`", policy.cluster_id)
            };
            return Err(Status::failed_precondition(format!(
                "node template `{}` is used by {owner} (version {}): remove it from the policy first",
                template.name, policy.version
            )));
        }
        self.store.delete(&tenant_id, &id).await?;
        Ok(target(&template).attach(Response::new(pb::DeleteNodeTemplateResponse {})))
    }
}
