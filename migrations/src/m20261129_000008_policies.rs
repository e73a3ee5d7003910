use sea_orm_migration::prelude::*;

/// Policies (one per cluster, `cluster_id` empty for the tenant default) with every version kept,
/// and node templates. Policies and templates are stored as their `spot.policy.v1` messages.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Policies {
    Table,
    TenantId,
    ClusterId,
    Version,
    Data,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PolicyVersions {
    Table,
    TenantId,
    ClusterId,
    Version,
    Data,
    CreatedAt,
}

#[derive(DeriveIden)]
enum NodeTemplates {
    Table,
    Id,
    TenantId,
    Name,
    Data,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The version in force for each (tenant, cluster); the history is in policy_versions.
        manager
            .create_table(
                Table::create()
                    .table(Policies::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Policies::TenantId).string().not_null())
                    .col(ColumnDef::new(Policies::ClusterId).string().not_null())
                    .col(ColumnDef::new(Policies::Version).integer().not_null())
                    .col(ColumnDef::new(Policies::Data).binary().not_null())
                    .col(ColumnDef::new(Policies::UpdatedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Policies::TenantId)
                            .col(Policies::ClusterId),
                    )
                    .to_owned(),
            )
            .await?;
        // The primary key makes two concurrent updates of one policy unable to both write
        // the same next version: one fails and is told to retry.
        manager
            .create_table(
                Table::create()
                    .table(PolicyVersions::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(PolicyVersions::TenantId).string().not_null())
                    .col(
                        ColumnDef::new(PolicyVersions::ClusterId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(PolicyVersions::Version).integer().not_null())
                    .col(ColumnDef::new(PolicyVersions::Data).binary().not_null())
                    .col(
                        ColumnDef::new(PolicyVersions::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(PolicyVersions::TenantId)
                            .col(PolicyVersions::ClusterId)
                            .col(PolicyVersions::Version),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NodeTemplates::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(NodeTemplates::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(NodeTemplates::TenantId).string().not_null())
                    .col(ColumnDef::new(NodeTemplates::Name).string().not_null())
                    .col(ColumnDef::new(NodeTemplates::Data).binary().not_null())
                    .col(
                        ColumnDef::new(NodeTemplates::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NodeTemplates::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("node_templates_tenant_name")
                    .table(NodeTemplates::Table)
                    .col(NodeTemplates::TenantId)
                    .col(NodeTemplates::Name)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            NodeTemplates::Table.into_iden(),
            PolicyVersions::Table.into_iden(),
            Policies::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
