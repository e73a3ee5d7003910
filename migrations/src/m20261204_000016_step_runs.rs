//! Durable step runs: the list of steps a plan, hibernation or interruption response is made of,
//! each step's state, and the lease of the replica running it, so another replica resumes a run
//! whose holder died.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StepRuns {
    Table,
    Id,
    Workflow,
    TenantId,
    ClusterId,
    State,
    Data,
    LeaseHolder,
    LeaseExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StepRuns::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(StepRuns::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(StepRuns::Workflow).string().not_null())
                    .col(ColumnDef::new(StepRuns::TenantId).string().not_null())
                    .col(ColumnDef::new(StepRuns::ClusterId).string().not_null())
                    .col(ColumnDef::new(StepRuns::State).string().not_null())
                    .col(ColumnDef::new(StepRuns::Data).text().not_null())
                    .col(ColumnDef::new(StepRuns::LeaseHolder).string().null())
                    .col(
                        ColumnDef::new(StepRuns::LeaseExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(StepRuns::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(StepRuns::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        // The sweeper's question: which unfinished runs of a workflow have a lapsed lease.
        manager
            .create_index(
                Index::create()
                    .name("step_runs_open")
                    .table(StepRuns::Table)
                    .col(StepRuns::Workflow)
                    .col(StepRuns::State)
                    .col(StepRuns::LeaseExpiresAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("step_runs_cluster")
                    .table(StepRuns::Table)
                    .col(StepRuns::ClusterId)
                    .col(StepRuns::State)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StepRuns::Table).if_exists().to_owned())
            .await
    }
}
