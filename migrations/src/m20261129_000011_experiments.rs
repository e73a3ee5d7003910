use sea_orm_migration::prelude::*;

/// The lab: experiments (a candidate risk model or optimizer strategy beside the live one, on some
/// of a tenant's clusters, for a while) and the decisions both made in shadow.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Experiments {
    Table,
    Id,
    TenantId,
    Name,
    Kind,
    Candidate,
    Live,
    ClusterIds,
    DurationHours,
    State,
    StopReason,
    CreatedBy,
    StartedAt,
    EndsAt,
    StoppedAt,
    Report,
}

#[derive(DeriveIden)]
enum ExperimentDecisions {
    Table,
    Id,
    ExperimentId,
    ClusterId,
    Subject,
    At,
    MaturesAt,
    LiveValue,
    CandidateValue,
    LiveRisk,
    CandidateRisk,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ExperimentDecisions as D;
        use Experiments as E;
        let text = |column: E| ColumnDef::new(column).string().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .if_not_exists()
                    .col(text(E::Id).primary_key().to_owned())
                    .col(text(E::TenantId))
                    .col(text(E::Name))
                    .col(text(E::Kind))
                    .col(text(E::Candidate))
                    .col(text(E::Live))
                    .col(ColumnDef::new(E::ClusterIds).text().not_null())
                    .col(ColumnDef::new(E::DurationHours).integer().not_null())
                    .col(text(E::State))
                    .col(ColumnDef::new(E::StopReason).text().not_null())
                    .col(text(E::CreatedBy))
                    .col(ColumnDef::new(E::StartedAt).big_integer().not_null())
                    .col(ColumnDef::new(E::EndsAt).big_integer().not_null())
                    .col(ColumnDef::new(E::StoppedAt).big_integer().null())
                    .col(ColumnDef::new(E::Report).binary().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("experiments_tenant")
                    .table(E::Table)
                    .col(E::TenantId)
                    .col(E::StartedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        let number = |column: D| ColumnDef::new(column).double().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(D::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(D::ExperimentId).string().not_null())
                    .col(ColumnDef::new(D::ClusterId).string().not_null())
                    .col(ColumnDef::new(D::Subject).string().not_null())
                    .col(ColumnDef::new(D::At).big_integer().not_null())
                    .col(ColumnDef::new(D::MaturesAt).big_integer().not_null())
                    .col(number(D::LiveValue))
                    .col(number(D::CandidateValue))
                    .col(number(D::LiveRisk))
                    .col(number(D::CandidateRisk))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("experiment_decisions_experiment")
                    .table(D::Table)
                    .col(D::ExperimentId)
                    .col(D::At)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ExperimentDecisions::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(Experiments::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
