use sea_orm_migration::prelude::*;

/// Spot prices of the pools the platform runs in, sampled by the risk service: a score's price
/// volatility part is computed from the last hours of them.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SpotPriceSamples {
    Table,
    Region,
    Zone,
    InstanceType,
    At,
    UsdPerHour,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use SpotPriceSamples as S;
        let text = |column: S| ColumnDef::new(column).string().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .if_not_exists()
                    .col(text(S::Region))
                    .col(text(S::Zone))
                    .col(text(S::InstanceType))
                    .col(ColumnDef::new(S::At).big_integer().not_null())
                    .col(ColumnDef::new(S::UsdPerHour).double().not_null())
                    .primary_key(
                        Index::create()
                            .col(S::Region)
                            .col(S::Zone)
                            .col(S::InstanceType)
                            .col(S::At),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("spot_price_samples_region_at")
                    .table(S::Table)
                    .col(S::Region)
                    .col(S::At)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(SpotPriceSamples::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
