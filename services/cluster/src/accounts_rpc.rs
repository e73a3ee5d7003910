//! AccountService: linking AWS accounts by role ARN and external id, verifying them by a real
//! call, and discovering the clusters that run in them.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use spot_access::AuditNote;
use spot_cloud::{Catalog, RoleArn};
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::account_service_server::AccountService;
use tonic::{Request, Response, Status};

use crate::common::{tenant, timestamp};
use crate::discovery::{EKS_TAG, KUBERNETES_TAG_PREFIX, summarize};
use crate::entity::{aws_accounts, aws_external_ids, discovered_clusters};
use crate::{ClusterApi, policies};

const VERIFIED: &str = "verified";
const UNVERIFIED: &str = "unverified";

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn db_error(error: sea_orm::DbErr) -> Status {
    match spot_db::DbError::from(error) {
        spot_db::DbError::AlreadyExists(_) => {
            Status::already_exists("this AWS account is already linked")
        }
        other => spot_error::ServiceError::into_status(other),
    }
}

fn to_proto(row: &aws_accounts::Model) -> pb::AwsAccount {
    pb::AwsAccount {
        id: row.id.clone(),
        account_id: row.account_id.clone(),
        role_arn: row.role_arn.clone(),
        status: if row.status == VERIFIED {
            pb::AwsAccountStatus::Verified
        } else {
            pb::AwsAccountStatus::Unverified
        }
        .into(),
        status_reason: row.status_reason.clone(),
        regions: serde_json::from_str(&row.regions).unwrap_or_default(),
        linked_at: Some(timestamp(row.linked_at)),
        verified_at: row.verified_at.map(timestamp),
    }
}

fn discovered_to_proto(row: &discovered_clusters::Model) -> pb::DiscoveredCluster {
    pb::DiscoveredCluster {
        id: row.id.clone(),
        aws_account_id: row.aws_account_id.clone(),
        name: row.name.clone(),
        region: row.region.clone(),
        nodes: row.nodes,
        instance_types: serde_json::from_str(&row.instance_types).unwrap_or_default(),
        zones: serde_json::from_str(&row.zones).unwrap_or_default(),
        spot_share_percent: row.spot_share_percent,
        hourly_cost_usd: row.hourly_cost_usd,
        discovered_at: Some(timestamp(row.discovered_at)),
    }
}

impl ClusterApi {
    /// The tenant's external id, made on first use. Random, so no one can guess another tenant's.
    pub(crate) async fn external_id(&self, tenant_id: &str) -> Result<String, Status> {
        let db = self.ctx.db.connection();
        if let Some(row) = aws_external_ids::Entity::find_by_id(tenant_id)
            .one(db)
            .await
            .map_err(db_error)?
        {
            return Ok(row.external_id);
        }
        let external_id = format!(
            "spot-{}",
            URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
        );
        let inserted = aws_external_ids::ActiveModel {
            tenant_id: Set(tenant_id.to_owned()),
            external_id: Set(external_id.clone()),
            created_at: Set(now_millis()),
        }
        .insert(db)
        .await;
        match inserted {
            Ok(_) => Ok(external_id),
            // Made concurrently by another request: use the stored one.
            Err(_) => aws_external_ids::Entity::find_by_id(tenant_id)
                .one(db)
                .await
                .map_err(db_error)?
                .map(|row| row.external_id)
                .ok_or_else(|| Status::internal("external id missing")),
        }
    }

    async fn tenant_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<aws_accounts::Model, Status> {
        aws_accounts::Entity::find_by_id(id)
            .filter(aws_accounts::Column::TenantId.eq(tenant_id))
            .one(self.ctx.db.connection())
            .await
            .map_err(db_error)?
            .ok_or_else(|| Status::not_found("AWS account not found"))
    }

    /// Calls the account through its role and records the outcome on the row, verified or not.
    async fn verify(&self, account: aws_accounts::Model) -> Result<aws_accounts::Model, Status> {
        let role = RoleArn::parse(&account.role_arn).map_err(Status::internal)?;
        let external_id = self.external_id(&account.tenant_id).await?;
        let cloud = self.connector.connect(&role, &external_id).await;
        let outcome = cloud.regions().await;
        let mut row: aws_accounts::ActiveModel = account.into();
        match outcome {
            Ok(regions) => {
                row.status = Set(VERIFIED.to_owned());
                row.status_reason = Set(String::new());
                row.regions = Set(serde_json::to_string(&regions).unwrap_or_else(|_| "[]".into()));
                row.verified_at = Set(Some(now_millis()));
            }
            Err(error) => {
                row.status = Set(UNVERIFIED.to_owned());
                row.status_reason = Set(format!("the role could not be used: {error}"));
            }
        }
        row.update(self.ctx.db.connection()).await.map_err(db_error)
    }
}

#[tonic::async_trait]
impl AccountService for ClusterApi {
    async fn get_link_instructions(
        &self,
        request: Request<pb::GetLinkInstructionsRequest>,
    ) -> Result<Response<pb::GetLinkInstructionsResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let external_id = self.external_id(&tenant_id).await?;
        let principal = self
            .ctx
            .config
            .aws_principal
            .clone()
            .unwrap_or_else(|| policies::SIMULATED_PRINCIPAL.to_owned());
        Ok(Response::new(pb::GetLinkInstructionsResponse {
            trust_policy_json: policies::trust_policy(&principal, &external_id),
            permission_policy_json: policies::permission_policy(),
            external_id,
        }))
    }

    async fn link_aws_account(
        &self,
        request: Request<pb::LinkAwsAccountRequest>,
    ) -> Result<Response<pb::LinkAwsAccountResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let role = RoleArn::parse(&request.into_inner().role_arn)
            .map_err(|reason| Status::invalid_argument(format!("invalid `role_arn`: {reason}")))?;
        let row = aws_accounts::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            tenant_id: Set(tenant_id),
            account_id: Set(role.account_id.clone()),
            role_arn: Set(role.to_string()),
            status: Set(UNVERIFIED.to_owned()),
            status_reason: Set("not verified yet".to_owned()),
            regions: Set("[]".to_owned()),
            linked_at: Set(now_millis()),
            verified_at: Set(None),
        }
        .insert(self.ctx.db.connection())
        .await
        .map_err(db_error)?;
        let row = self.verify(row).await?;
        Ok(
            AuditNote::target(format!("aws_account/{}", row.id)).attach(Response::new(
                pb::LinkAwsAccountResponse {
                    account: Some(to_proto(&row)),
                },
            )),
        )
    }

    async fn verify_aws_account(
        &self,
        request: Request<pb::VerifyAwsAccountRequest>,
    ) -> Result<Response<pb::VerifyAwsAccountResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let account = self
            .tenant_account(&tenant_id, &request.into_inner().id)
            .await?;
        let row = self.verify(account).await?;
        Ok(
            AuditNote::target(format!("aws_account/{}", row.id)).attach(Response::new(
                pb::VerifyAwsAccountResponse {
                    account: Some(to_proto(&row)),
                },
            )),
        )
    }

    async fn list_aws_accounts(
        &self,
        request: Request<pb::ListAwsAccountsRequest>,
    ) -> Result<Response<pb::ListAwsAccountsResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let rows = aws_accounts::Entity::find()
            .filter(aws_accounts::Column::TenantId.eq(&tenant_id))
            .order_by_asc(aws_accounts::Column::LinkedAt)
            .all(self.ctx.db.connection())
            .await
            .map_err(db_error)?;
        Ok(Response::new(pb::ListAwsAccountsResponse {
            accounts: rows.iter().map(to_proto).collect(),
            page: Some(spot_proto::common::v1::PageResponse::default()),
        }))
    }

    async fn unlink_aws_account(
        &self,
        request: Request<pb::UnlinkAwsAccountRequest>,
    ) -> Result<Response<pb::UnlinkAwsAccountResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let account = self
            .tenant_account(&tenant_id, &request.into_inner().id)
            .await?;
        let dependent = crate::entity::clusters::Entity::find()
            .filter(crate::entity::clusters::Column::AwsAccountId.eq(&account.id))
            .all(self.ctx.db.connection())
            .await
            .map_err(db_error)?;
        if !dependent.is_empty() {
            let names: Vec<String> = dependent
                .iter()
                .map(|c| format!("{}/{}", c.region, c.name))
                .collect();
            return Err(Status::failed_precondition(format!(
                "clusters still depend on this account: {}; remove them first",
                names.join(", ")
            )));
        }
        aws_accounts::Entity::delete_by_id(&account.id)
            .exec(self.ctx.db.connection())
            .await
            .map_err(db_error)?;
        Ok(AuditNote::target(format!("aws_account/{}", account.id))
            .attach(Response::new(pb::UnlinkAwsAccountResponse {})))
    }

    async fn discover_clusters(
        &self,
        request: Request<pb::DiscoverClustersRequest>,
    ) -> Result<Response<pb::DiscoverClustersResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let account = self.tenant_account(&tenant_id, &request.id).await?;
        if account.status != VERIFIED {
            return Err(Status::failed_precondition(format!(
                "verify the account first: {}",
                account.status_reason
            )));
        }
        let enabled: Vec<String> = serde_json::from_str(&account.regions).unwrap_or_default();
        let catalog = Catalog::embedded();
        for region in &request.regions {
            catalog
                .check_region(region)
                .map_err(|e| Status::invalid_argument(format!("invalid `regions`: {e}")))?;
            if !enabled.contains(region) {
                return Err(Status::invalid_argument(format!(
                    "invalid `regions`: `{region}` is not enabled in account {}",
                    account.account_id
                )));
            }
        }
        let regions = if request.regions.is_empty() {
            enabled
        } else {
            request.regions
        };
        let role = RoleArn::parse(&account.role_arn).map_err(Status::internal)?;
        let cloud = self
            .connector
            .connect(&role, &self.external_id(&tenant_id).await?)
            .await;
        let mut found = Vec::new();
        for region in regions.iter().filter(|r| catalog.check_region(r).is_ok()) {
            let mut instances = BTreeMap::new();
            for tag in [EKS_TAG.to_owned(), format!("{KUBERNETES_TAG_PREFIX}*")] {
                for instance in cloud
                    .instances_tagged(region, &tag)
                    .await
                    .map_err(|e| Status::unavailable(e.to_string()))?
                {
                    instances.insert(instance.id.clone(), instance);
                }
            }
            if instances.is_empty() {
                continue;
            }
            let instances: Vec<_> = instances.into_values().collect();
            let prices = cloud
                .spot_prices(region)
                .await
                .map(|prices| {
                    crate::prices::sane(prices.into_iter().map(|p| (p.pool, p.usd_per_hour)))
                })
                .unwrap_or_default();
            found.extend(summarize(&instances, &prices.by_pool));
        }
        let db = self.ctx.db.connection();
        let now = now_millis();
        for summary in &found {
            let existing = discovered_clusters::Entity::find()
                .filter(discovered_clusters::Column::AwsAccountId.eq(&account.id))
                .filter(discovered_clusters::Column::Region.eq(&summary.region))
                .filter(discovered_clusters::Column::Name.eq(&summary.name))
                .one(db)
                .await
                .map_err(db_error)?;
            let summary_json =
                |value: &BTreeMap<String, i32>| serde_json::to_string(value).unwrap_or_default();
            match existing {
                Some(row) => {
                    let mut row: discovered_clusters::ActiveModel = row.into();
                    row.nodes = Set(summary.nodes);
                    row.instance_types = Set(summary_json(&summary.instance_types));
                    row.zones = Set(summary_json(&summary.zones));
                    row.spot_share_percent = Set(summary.spot_share_percent);
                    row.hourly_cost_usd = Set(summary.hourly_cost_usd);
                    row.discovered_at = Set(now);
                    row.update(db).await.map_err(db_error)?;
                }
                None => {
                    discovered_clusters::ActiveModel {
                        id: Set(uuid::Uuid::now_v7().to_string()),
                        tenant_id: Set(tenant_id.clone()),
                        aws_account_id: Set(account.id.clone()),
                        region: Set(summary.region.clone()),
                        name: Set(summary.name.clone()),
                        nodes: Set(summary.nodes),
                        instance_types: Set(summary_json(&summary.instance_types)),
                        zones: Set(summary_json(&summary.zones)),
                        spot_share_percent: Set(summary.spot_share_percent),
                        hourly_cost_usd: Set(summary.hourly_cost_usd),
                        adopted_cluster_id: Set(None),
                        discovered_at: Set(now),
                    }
                    .insert(db)
                    .await
                    .map_err(db_error)?;
                }
            }
        }
        let rows = discovered_clusters::Entity::find()
            .filter(discovered_clusters::Column::AwsAccountId.eq(&account.id))
            .filter(discovered_clusters::Column::DiscoveredAt.eq(now))
            .order_by_asc(discovered_clusters::Column::Region)
            .order_by_asc(discovered_clusters::Column::Name)
            .all(db)
            .await
            .map_err(db_error)?;
        Ok(
            AuditNote::target(format!("aws_account/{}", account.id)).attach(Response::new(
                pb::DiscoverClustersResponse {
                    clusters: rows.iter().map(discovered_to_proto).collect(),
                },
            )),
        )
    }

    async fn adopt_cluster(
        &self,
        request: Request<pb::AdoptClusterRequest>,
    ) -> Result<Response<pb::AdoptClusterResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let id = request.into_inner().discovered_cluster_id;
        let discovered = discovered_clusters::Entity::find_by_id(&id)
            .filter(discovered_clusters::Column::TenantId.eq(&tenant_id))
            .one(self.ctx.db.connection())
            .await
            .map_err(db_error)?
            .ok_or_else(|| Status::not_found("discovered cluster not found"))?;
        if let Some(cluster_id) = &discovered.adopted_cluster_id {
            return Err(Status::already_exists(format!(
                "already adopted as cluster {cluster_id}"
            )));
        }
        let registered = self
            .register(
                &tenant_id,
                &discovered.name,
                &discovered.region,
                Some(discovered.aws_account_id.clone()),
            )
            .await?;
        let mut row: discovered_clusters::ActiveModel = discovered.into();
        row.adopted_cluster_id = Set(Some(registered.cluster.id.clone()));
        row.update(self.ctx.db.connection())
            .await
            .map_err(db_error)?;
        // Registration imported its node class from its nodes: shown for review.
        let node_class = self
            .node_class_in_force(&registered.cluster)
            .await?
            .filter(|(_, inherited)| !inherited)
            .map(|(row, _)| crate::node_classes::to_proto(&row));
        Ok(
            AuditNote::target(format!("cluster/{}", registered.cluster.id)).attach(Response::new(
                pb::AdoptClusterResponse {
                    cluster: Some(crate::clusters_rpc::to_proto(&registered.cluster)),
                    agent_key: registered.agent_key,
                    install_command: registered.install_command,
                    node_class,
                },
            )),
        )
    }
}
