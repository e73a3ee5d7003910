use sea_orm_migration::prelude::*;

/// The optimizer's plans: what it recommended, what was applied, each step's status.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
    TenantId,
    ClusterId,
    State,
    Data,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Plans::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Plans::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Plans::TenantId).string().not_null())
                    .col(ColumnDef::new(Plans::ClusterId).string().not_null())
                    .col(ColumnDef::new(Plans::State).string().not_null())
                    .col(ColumnDef::new(Plans::Data).binary().not_null())
                    .col(ColumnDef::new(Plans::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Plans::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("plans_cluster")
                    .table(Plans::Table)
                    .col(Plans::ClusterId)
                    .col(Plans::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Plans::Table).if_exists().to_owned())
            .await
    }
}
