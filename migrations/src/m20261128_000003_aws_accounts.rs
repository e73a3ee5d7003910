use sea_orm_migration::prelude::*;

/// Linked AWS accounts, the external id each tenant's roles must demand, and discovered clusters.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AwsExternalIds {
    Table,
    TenantId,
    ExternalId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AwsAccounts {
    Table,
    Id,
    TenantId,
    AccountId,
    RoleArn,
    Status,
    StatusReason,
    Regions,
    LinkedAt,
    VerifiedAt,
}

#[derive(DeriveIden)]
enum DiscoveredClusters {
    Table,
    Id,
    TenantId,
    AwsAccountId,
    Region,
    Name,
    Nodes,
    InstanceTypes,
    Zones,
    SpotSharePercent,
    HourlyCostUsd,
    AdoptedClusterId,
    DiscoveredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AwsExternalIds::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AwsExternalIds::TenantId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AwsExternalIds::ExternalId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AwsExternalIds::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AwsAccounts::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AwsAccounts::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AwsAccounts::TenantId).string().not_null())
                    .col(ColumnDef::new(AwsAccounts::AccountId).string().not_null())
                    .col(ColumnDef::new(AwsAccounts::RoleArn).string().not_null())
                    .col(ColumnDef::new(AwsAccounts::Status).string().not_null())
                    .col(ColumnDef::new(AwsAccounts::StatusReason).text().not_null())
                    .col(ColumnDef::new(AwsAccounts::Regions).text().not_null())
                    .col(
                        ColumnDef::new(AwsAccounts::LinkedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AwsAccounts::VerifiedAt).big_integer().null())
                    .index(
                        Index::create()
                            .name("aws_accounts_tenant_account")
                            .col(AwsAccounts::TenantId)
                            .col(AwsAccounts::AccountId)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DiscoveredClusters::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DiscoveredClusters::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(DiscoveredClusters::TenantId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DiscoveredClusters::AwsAccountId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DiscoveredClusters::Region)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(DiscoveredClusters::Name).string().not_null())
                    .col(
                        ColumnDef::new(DiscoveredClusters::Nodes)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DiscoveredClusters::InstanceTypes)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(DiscoveredClusters::Zones).text().not_null())
                    .col(
                        ColumnDef::new(DiscoveredClusters::SpotSharePercent)
                            .double()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DiscoveredClusters::HourlyCostUsd)
                            .double()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DiscoveredClusters::AdoptedClusterId)
                            .string()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(DiscoveredClusters::DiscoveredAt)
                            .big_integer()
                            .not_null(),
                    )
                    .index(
                        Index::create()
                            .name("discovered_clusters_account_region_name")
                            .col(DiscoveredClusters::AwsAccountId)
                            .col(DiscoveredClusters::Region)
                            .col(DiscoveredClusters::Name)
                            .unique(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DiscoveredClusters::Table, DiscoveredClusters::AwsAccountId)
                            .to(AwsAccounts::Table, AwsAccounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DiscoveredClusters::Table.into_iden(),
            AwsAccounts::Table.into_iden(),
            AwsExternalIds::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
