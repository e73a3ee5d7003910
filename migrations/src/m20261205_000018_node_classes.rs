//! Node classes: how a cluster's new nodes boot on EC2 (subnets, security groups, instance
//! profile, image, user data, volume, metadata options, tags). One per cluster, and one per tenant
//! (`cluster_id` empty) that clusters without their own use. `spec` is the class as JSON;
//! `version` counts its saves; `zones` and `architectures` (JSON lists) are where and on what
//! its last resolution could launch (subnets' zones, images' architectures): the optimizer plans
//! new nodes only there.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NodeClasses {
    Table,
    Id,
    TenantId,
    ClusterId,
    Spec,
    Zones,
    Architectures,
    Source,
    Version,
    UpdatedBy,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NodeClasses::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(NodeClasses::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(NodeClasses::TenantId).string().not_null())
                    .col(ColumnDef::new(NodeClasses::ClusterId).string().not_null())
                    .col(ColumnDef::new(NodeClasses::Spec).text().not_null())
                    .col(ColumnDef::new(NodeClasses::Zones).text().not_null())
                    .col(ColumnDef::new(NodeClasses::Architectures).text().not_null())
                    .col(ColumnDef::new(NodeClasses::Source).string().not_null())
                    .col(ColumnDef::new(NodeClasses::Version).integer().not_null())
                    .col(ColumnDef::new(NodeClasses::UpdatedBy).string().not_null())
                    .col(
                        ColumnDef::new(NodeClasses::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("node_classes_tenant_cluster")
                    .table(NodeClasses::Table)
                    .col(NodeClasses::TenantId)
                    .col(NodeClasses::ClusterId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(NodeClasses::Table).to_owned())
            .await
    }
}
