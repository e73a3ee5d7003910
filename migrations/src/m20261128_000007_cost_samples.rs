use sea_orm_migration::prelude::*;

/// What each cluster cost, sampled from its agent's reports: the dashboards' time series and the
/// savings to date are sums over these.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CostSamples {
    Table,
    Id,
    TenantId,
    ClusterId,
    At,
    CostUsdPerHour,
    OnDemandUsdPerHour,
    Nodes,
    SpotNodes,
    CpuAllocatableMillis,
    CpuRequestedMillis,
    MemoryAllocatableMib,
    MemoryRequestedMib,
    Interruptions,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let big = |column: CostSamples| ColumnDef::new(column).big_integer().not_null().to_owned();
        let money = |column: CostSamples| ColumnDef::new(column).double().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(CostSamples::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(CostSamples::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(CostSamples::TenantId).string().not_null())
                    .col(ColumnDef::new(CostSamples::ClusterId).string().not_null())
                    .col(big(CostSamples::At))
                    .col(money(CostSamples::CostUsdPerHour))
                    .col(money(CostSamples::OnDemandUsdPerHour))
                    .col(big(CostSamples::Nodes))
                    .col(big(CostSamples::SpotNodes))
                    .col(big(CostSamples::CpuAllocatableMillis))
                    .col(big(CostSamples::CpuRequestedMillis))
                    .col(big(CostSamples::MemoryAllocatableMib))
                    .col(big(CostSamples::MemoryRequestedMib))
                    .col(big(CostSamples::Interruptions))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("cost_samples_cluster", CostSamples::ClusterId),
            ("cost_samples_tenant", CostSamples::TenantId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CostSamples::Table)
                        .col(column)
                        .col(CostSamples::At)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(CostSamples::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
