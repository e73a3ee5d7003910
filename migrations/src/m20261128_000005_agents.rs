use sea_orm_migration::prelude::*;

/// What the agents report (nodes, pods, PDBs as stored protobuf), the cluster event log and the
/// action outbox (stored before it is sent, so nothing is lost across reconnects and restarts).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clusters {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ClusterObjects {
    Table,
    ClusterId,
    Kind,
    Key,
    Data,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ClusterEvents {
    Table,
    Id,
    ClusterId,
    Kind,
    Message,
    At,
}

#[derive(DeriveIden)]
enum Actions {
    Table,
    Id,
    ClusterId,
    TenantId,
    PlanId,
    Kind,
    NodeName,
    Payload,
    Status,
    Message,
    Attempt,
    Deadline,
    NextAttemptAt,
    CreatedAt,
    UpdatedAt,
}

fn cluster_foreign_key(from: impl IntoIden + 'static) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from_col(from)
        .to(Clusters::Table, Clusters::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClusterObjects::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ClusterObjects::ClusterId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ClusterObjects::Kind).string().not_null())
                    .col(ColumnDef::new(ClusterObjects::Key).string().not_null())
                    .col(ColumnDef::new(ClusterObjects::Data).binary().not_null())
                    .col(
                        ColumnDef::new(ClusterObjects::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ClusterObjects::ClusterId)
                            .col(ClusterObjects::Kind)
                            .col(ClusterObjects::Key),
                    )
                    .foreign_key(&mut cluster_foreign_key(ClusterObjects::ClusterId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClusterEvents::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ClusterEvents::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ClusterEvents::ClusterId).string().not_null())
                    .col(ColumnDef::new(ClusterEvents::Kind).string().not_null())
                    .col(ColumnDef::new(ClusterEvents::Message).text().not_null())
                    .col(ColumnDef::new(ClusterEvents::At).big_integer().not_null())
                    .foreign_key(&mut cluster_foreign_key(ClusterEvents::ClusterId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("cluster_events_cluster")
                    .table(ClusterEvents::Table)
                    .col(ClusterEvents::ClusterId)
                    .col(ClusterEvents::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Actions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Actions::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Actions::ClusterId).string().not_null())
                    .col(ColumnDef::new(Actions::TenantId).string().not_null())
                    .col(ColumnDef::new(Actions::PlanId).string().null())
                    .col(ColumnDef::new(Actions::Kind).string().not_null())
                    .col(ColumnDef::new(Actions::NodeName).string().not_null())
                    .col(ColumnDef::new(Actions::Payload).binary().not_null())
                    .col(ColumnDef::new(Actions::Status).string().not_null())
                    .col(ColumnDef::new(Actions::Message).text().not_null())
                    .col(ColumnDef::new(Actions::Attempt).integer().not_null())
                    .col(ColumnDef::new(Actions::Deadline).big_integer().not_null())
                    .col(
                        ColumnDef::new(Actions::NextAttemptAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Actions::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Actions::UpdatedAt).big_integer().not_null())
                    .foreign_key(&mut cluster_foreign_key(Actions::ClusterId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("actions_cluster_status")
                    .table(Actions::Table)
                    .col(Actions::ClusterId)
                    .col(Actions::Status)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Actions::Table.into_iden(),
            ClusterEvents::Table.into_iden(),
            ClusterObjects::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
