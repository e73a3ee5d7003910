//! Memberships: an account (a `users` row: one email, one password) may belong to several
//! tenants, each with its own role, so an invitation to an address that already has an account
//! goes to that account instead of being refused.
//!
//! `users.tenant_id` and `users.role` stay (SQLite cannot drop a column under a foreign key)
//! and keep the tenant and role the account was created with; from here on memberships are
//! where tenant and role are read. A refresh token now names the tenant its session acts in.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    UserId,
    TenantId,
    Role,
    InviteTokenHash,
    CreatedAt,
    JoinedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    Role,
    PasswordHash,
    InviteTokenHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    UserId,
    TenantId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Memberships::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Memberships::UserId).string().not_null())
                    .col(ColumnDef::new(Memberships::TenantId).string().not_null())
                    .col(ColumnDef::new(Memberships::Role).string().not_null())
                    .col(ColumnDef::new(Memberships::InviteTokenHash).string().null())
                    .col(
                        ColumnDef::new(Memberships::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Memberships::JoinedAt).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("memberships_user_tenant")
                    .table(Memberships::Table)
                    .col(Memberships::UserId)
                    .col(Memberships::TenantId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Listing a tenant's members, counting its owners.
        manager
            .create_index(
                Index::create()
                    .name("memberships_tenant")
                    .table(Memberships::Table)
                    .col(Memberships::TenantId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("memberships_invite_token_hash")
                    .table(Memberships::Table)
                    .col(Memberships::InviteTokenHash)
                    .to_owned(),
            )
            .await?;
        // Every user so far belongs to exactly the tenant on its row; its id names the
        // membership too, which is unique since the user is. An unaccepted invite (no password)
        // has not joined.
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Memberships::Table)
                    .columns([
                        Memberships::Id,
                        Memberships::UserId,
                        Memberships::TenantId,
                        Memberships::Role,
                        Memberships::InviteTokenHash,
                        Memberships::CreatedAt,
                        Memberships::JoinedAt,
                    ])
                    .select_from(
                        Query::select()
                            .column(Users::Id)
                            .column(Users::Id)
                            .column(Users::TenantId)
                            .column(Users::Role)
                            .column(Users::InviteTokenHash)
                            .column(Users::CreatedAt)
                            .expr(
                                Expr::case(
                                    Expr::col(Users::PasswordHash).is_null(),
                                    Expr::value(Option::<i64>::None),
                                )
                                .finally(Expr::col(Users::CreatedAt)),
                            )
                            .from(Users::Table)
                            .to_owned(),
                    )
                    .map_err(|e| DbErr::Migration(e.to_string()))?
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Users::Table)
                    .value(Users::InviteTokenHash, Option::<String>::None)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .add_column(ColumnDef::new(RefreshTokens::TenantId).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(RefreshTokens::Table)
                    .value(
                        RefreshTokens::TenantId,
                        SimpleExpr::SubQuery(
                            None,
                            Box::new(
                                Query::select()
                                    .column((Users::Table, Users::TenantId))
                                    .from(Users::Table)
                                    .and_where(
                                        Expr::col((Users::Table, Users::Id))
                                            .equals((RefreshTokens::Table, RefreshTokens::UserId)),
                                    )
                                    .to_owned()
                                    .into_sub_query_statement(),
                            ),
                        ),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .drop_column(RefreshTokens::TenantId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Memberships::Table).to_owned())
            .await
    }
}
