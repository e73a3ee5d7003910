use sea_orm_migration::prelude::*;

/// Tenants, users, refresh tokens, signing keys, API keys, the audit trail and notifications.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    Email,
    PasswordHash,
    Role,
    PlatformAdmin,
    InviteTokenHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    FamilyId,
    UserId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    KeyId,
    PrivateKey,
    PublicJwk,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Name,
    ClusterId,
    Role,
    SecretHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    ActorKind,
    ActorId,
    Action,
    Target,
    Result,
    RequestId,
    At,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    TenantId,
    UserId,
    Kind,
    Title,
    Body,
    ReadAt,
    CreatedAt,
}

fn id(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .string()
        .not_null()
        .primary_key()
        .to_owned()
}

fn text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).string().not_null().to_owned()
}

fn optional_text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).string().null().to_owned()
}

/// Unix milliseconds, as every timestamp of the platform.
fn millis(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).big_integer().not_null().to_owned()
}

fn optional_millis(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).big_integer().null().to_owned()
}

fn cascade_to(
    from: (impl IntoIden + 'static, impl IntoIden + 'static),
    to: (impl IntoIden + 'static, impl IntoIden + 'static),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .if_not_exists()
                    .col(id(Tenants::Id))
                    .col(text(Tenants::Name))
                    .col(millis(Tenants::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(id(Users::Id))
                    .col(text(Users::TenantId))
                    .col(text(Users::Email).unique_key().to_owned())
                    .col(optional_text(Users::PasswordHash))
                    .col(text(Users::Role))
                    .col(ColumnDef::new(Users::PlatformAdmin).boolean().not_null())
                    .col(optional_text(Users::InviteTokenHash))
                    .col(millis(Users::CreatedAt))
                    .foreign_key(&mut cascade_to(
                        (Users::Table, Users::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(id(RefreshTokens::Id))
                    .col(text(RefreshTokens::FamilyId))
                    .col(text(RefreshTokens::UserId))
                    .col(text(RefreshTokens::TokenHash).unique_key().to_owned())
                    .col(millis(RefreshTokens::ExpiresAt))
                    .col(optional_millis(RefreshTokens::UsedAt))
                    .col(optional_millis(RefreshTokens::RevokedAt))
                    .col(millis(RefreshTokens::CreatedAt))
                    .foreign_key(&mut cascade_to(
                        (RefreshTokens::Table, RefreshTokens::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("refresh_tokens_family")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::FamilyId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .if_not_exists()
                    .col(id(SigningKeys::KeyId))
                    .col(ColumnDef::new(SigningKeys::PrivateKey).text().not_null())
                    .col(ColumnDef::new(SigningKeys::PublicJwk).text().not_null())
                    .col(millis(SigningKeys::CreatedAt))
                    .col(optional_millis(SigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(id(ApiKeys::Id))
                    .col(text(ApiKeys::TenantId))
                    .col(text(ApiKeys::Name))
                    .col(optional_text(ApiKeys::ClusterId))
                    .col(optional_text(ApiKeys::Role))
                    .col(text(ApiKeys::SecretHash).unique_key().to_owned())
                    .col(millis(ApiKeys::CreatedAt))
                    .col(optional_millis(ApiKeys::LastUsedAt))
                    .col(optional_millis(ApiKeys::RevokedAt))
                    .foreign_key(&mut cascade_to(
                        (ApiKeys::Table, ApiKeys::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .if_not_exists()
                    .col(id(AuditEvents::Id))
                    .col(text(AuditEvents::TenantId))
                    .col(text(AuditEvents::ActorKind))
                    .col(text(AuditEvents::ActorId))
                    .col(text(AuditEvents::Action))
                    .col(text(AuditEvents::Target))
                    .col(text(AuditEvents::Result))
                    .col(text(AuditEvents::RequestId))
                    .col(millis(AuditEvents::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_tenant_time")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::At)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(id(Notifications::Id))
                    .col(text(Notifications::TenantId))
                    .col(text(Notifications::UserId))
                    .col(text(Notifications::Kind))
                    .col(text(Notifications::Title))
                    .col(ColumnDef::new(Notifications::Body).text().not_null())
                    .col(optional_millis(Notifications::ReadAt))
                    .col(millis(Notifications::CreatedAt))
                    .foreign_key(&mut cascade_to(
                        (Notifications::Table, Notifications::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        append_only_audit(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Notifications::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// The audit trail is append-only in the database itself, not only in the code that writes it.
async fn append_only_audit(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            for event in ["UPDATE", "DELETE"] {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER IF NOT EXISTS audit_events_no_{lower} BEFORE {event} ON audit_events \
                     BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
                    lower = event.to_lowercase()
                ))
                .await?;
            }
        }
        _ => {
            db.execute_unprepared(
                "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$ \
                 BEGIN RAISE EXCEPTION 'audit_events is append-only'; END; $$ LANGUAGE plpgsql",
            )
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
            )
            .await?;
        }
    }
    Ok(())
}
