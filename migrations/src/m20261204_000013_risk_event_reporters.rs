use sea_orm_migration::prelude::*;

/// Who reported each interruption, as an opaque name (a hash of the tenant id), so a risk score
/// weighs tenants rather than events: one tenant's many reports cannot dominate a pool's score.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RiskEvents {
    Table,
    Reporter,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RiskEvents::Table)
                    .add_column(
                        ColumnDef::new(RiskEvents::Reporter)
                            .string()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        // Evidence from before reporters were kept counts as one reporter per event, as it did.
        manager
            .get_connection()
            .execute_unprepared("UPDATE risk_events SET reporter = event_id WHERE reporter = ''")
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RiskEvents::Table)
                    .drop_column(RiskEvents::Reporter)
                    .to_owned(),
            )
            .await
    }
}
