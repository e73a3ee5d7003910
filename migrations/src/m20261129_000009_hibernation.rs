use sea_orm_migration::prelude::*;

/// Hibernation: schedules, one-off overrides, each cluster's recorded state (with the capacity a
/// wake restores) and the hibernate and wake runs.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HibernationSchedules {
    Table,
    Id,
    TenantId,
    ClusterId,
    SleepCron,
    WakeCron,
    TimeZone,
    MustRun,
    CreatedAt,
}

#[derive(DeriveIden)]
enum HibernationOverrides {
    Table,
    Id,
    TenantId,
    ClusterId,
    Asleep,
    StartsAt,
    EndsAt,
}

#[derive(DeriveIden)]
enum HibernationStates {
    Table,
    ClusterId,
    TenantId,
    State,
    Capacity,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum HibernationRuns {
    Table,
    Id,
    TenantId,
    ClusterId,
    Status,
    Data,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use HibernationSchedules as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(S::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(S::TenantId).string().not_null())
                    .col(ColumnDef::new(S::ClusterId).string().not_null())
                    .col(ColumnDef::new(S::SleepCron).string().not_null())
                    .col(ColumnDef::new(S::WakeCron).string().not_null())
                    .col(ColumnDef::new(S::TimeZone).string().not_null())
                    .col(ColumnDef::new(S::MustRun).text().not_null())
                    .col(ColumnDef::new(S::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("hibernation_schedules_cluster")
                    .table(S::Table)
                    .col(S::ClusterId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        use HibernationOverrides as O;
        manager
            .create_table(
                Table::create()
                    .table(O::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(O::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(O::TenantId).string().not_null())
                    .col(ColumnDef::new(O::ClusterId).string().not_null())
                    .col(ColumnDef::new(O::Asleep).boolean().not_null())
                    .col(ColumnDef::new(O::StartsAt).big_integer().not_null())
                    .col(ColumnDef::new(O::EndsAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("hibernation_overrides_ends")
                    .table(O::Table)
                    .col(O::EndsAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        use HibernationStates as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(T::ClusterId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(T::TenantId).string().not_null())
                    .col(ColumnDef::new(T::State).string().not_null())
                    .col(ColumnDef::new(T::Capacity).binary().not_null())
                    .col(ColumnDef::new(T::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        use HibernationRuns as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(R::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(R::TenantId).string().not_null())
                    .col(ColumnDef::new(R::ClusterId).string().not_null())
                    .col(ColumnDef::new(R::Status).string().not_null())
                    .col(ColumnDef::new(R::Data).binary().not_null())
                    .col(ColumnDef::new(R::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(R::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("hibernation_runs_cluster")
                    .table(R::Table)
                    .col(R::ClusterId)
                    .col(R::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            HibernationRuns::Table.into_iden(),
            HibernationStates::Table.into_iden(),
            HibernationOverrides::Table.into_iden(),
            HibernationSchedules::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
