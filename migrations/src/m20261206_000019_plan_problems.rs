//! The problem each plan was computed from, in the engine's schema as JSON (what
//! `spot solve --input` reads), so `GetPlan` can export it for anyone to replay the plan. Kept
//! apart from `plans` so listing and applying plans never reads it; it goes with its plan.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanProblems {
    Table,
    PlanId,
    Problem,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PlanProblems::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(PlanProblems::PlanId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PlanProblems::Problem).text().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PlanProblems::Table).to_owned())
            .await
    }
}
