//! Email verification: a user signs up unverified and logs in once the emailed token comes back.
//! Users who existed before were let in without it and stay verified.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    CreatedAt,
    EmailVerifiedAt,
    VerificationTokenHash,
    VerificationSentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        for column in [
            ColumnDef::new(Users::EmailVerifiedAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Users::VerificationTokenHash)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Users::VerificationSentAt)
                .big_integer()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .exec_stmt(
                Query::update()
                    .table(Users::Table)
                    .value(Users::EmailVerifiedAt, Expr::col(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_verification_token_hash")
                    .table(Users::Table)
                    .col(Users::VerificationTokenHash)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_users_verification_token_hash")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Users::EmailVerifiedAt,
            Users::VerificationTokenHash,
            Users::VerificationSentAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
