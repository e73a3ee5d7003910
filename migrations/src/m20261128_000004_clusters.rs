use sea_orm_migration::prelude::*;

/// Registered clusters (each with an agent key issued by auth).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clusters {
    Table,
    Id,
    TenantId,
    Name,
    Region,
    AwsAccountId,
    DryRun,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clusters::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Clusters::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Clusters::TenantId).string().not_null())
                    .col(ColumnDef::new(Clusters::Name).string().not_null())
                    .col(ColumnDef::new(Clusters::Region).string().not_null())
                    .col(ColumnDef::new(Clusters::AwsAccountId).string().null())
                    .col(ColumnDef::new(Clusters::DryRun).boolean().not_null())
                    .col(ColumnDef::new(Clusters::CreatedAt).big_integer().not_null())
                    .index(
                        Index::create()
                            .name("clusters_tenant_region_name")
                            .col(Clusters::TenantId)
                            .col(Clusters::Region)
                            .col(Clusters::Name)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Clusters::Table).if_exists().to_owned())
            .await
    }
}
