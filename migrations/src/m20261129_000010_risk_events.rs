use sea_orm_migration::prelude::*;

/// Every interruption the risk service accepted (from any tenant): the evidence behind risk
/// scores. Pools only, never which tenant or cluster reported it.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RiskEvents {
    Table,
    EventId,
    Region,
    Zone,
    InstanceType,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let text = |column: RiskEvents| ColumnDef::new(column).string().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(RiskEvents::Table)
                    .if_not_exists()
                    .col(text(RiskEvents::EventId).primary_key().to_owned())
                    .col(text(RiskEvents::Region))
                    .col(text(RiskEvents::Zone))
                    .col(text(RiskEvents::InstanceType))
                    .col(ColumnDef::new(RiskEvents::At).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("risk_events_pool")
                    .table(RiskEvents::Table)
                    .col(RiskEvents::Region)
                    .col(RiskEvents::At)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(RiskEvents::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
