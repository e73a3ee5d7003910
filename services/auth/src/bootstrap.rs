//! The first platform admin. Never a fixed password: it comes from SPOT_ADMIN_EMAIL and
//! SPOT_ADMIN_PASSWORD, or, in the embedded default, is random, printed once and written to a
//! 0600 file in the data dir.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use spot_db::Backend;

use crate::entity::users;
use crate::error::{AuthError, AuthResult};
use crate::{AuthApi, passwords, validate};

pub const EMBEDDED_ADMIN_EMAIL: &str = "admin@spot.local";
pub const CREDENTIALS_FILE: &str = "admin-credentials.txt";

pub async fn ensure_platform_admin(api: &AuthApi) -> AuthResult<()> {
    let admins = users::Entity::find()
        .filter(users::Column::PlatformAdmin.eq(true))
        .count(api.ctx.db.connection())
        .await?;
    if admins > 0 {
        return Ok(());
    }
    let config = &api.ctx.config;
    let (email, password, generated) = match (&config.admin_email, &config.admin_password) {
        (Some(email), Some(password)) => {
            let email = validate::email(email, "admin_email")?;
            passwords::check_policy(password, "admin_password")?;
            (email, password.clone(), false)
        }
        _ if api.ctx.db.backend() == Backend::Sqlite => {
            let password = format!(
                "Spot-{}",
                URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>())
            );
            (EMBEDDED_ADMIN_EMAIL.to_owned(), password, true)
        }
        _ => {
            tracing::warn!(
                "no platform admin exists; set SPOT_ADMIN_EMAIL and SPOT_ADMIN_PASSWORD to create one"
            );
            return Ok(());
        }
    };
    let to_hash = password.clone();
    let hash = api
        .hashing
        .run(move |memory| passwords::hash_in(&to_hash, memory))
        .await??;
    match api
        .create_tenant_with_owner(
            "Platform",
            &email,
            hash,
            true,
            crate::verification::EmailState::Verified,
        )
        .await
    {
        Ok(_) => {}
        // Another replica created it at the same moment.
        Err(AuthError::AlreadyExists(_)) => return Ok(()),
        Err(other) => return Err(other),
    }
    if generated {
        let path = config.data_dir.join(CREDENTIALS_FILE);
        write_private(&path, &format!("email: {email}\npassword: {password}\n"))
            .map_err(|e| AuthError::Internal(format!("{}: {e}", path.display())))?;
        println!(
            "\nFirst start: platform admin created.\n  email:    {email}\n  password: {password}\n  (also in {}, readable only by you)\n",
            path.display()
        );
    } else {
        tracing::info!(%email, "platform admin created from SPOT_ADMIN_EMAIL");
    }
    Ok(())
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    // A file left from an earlier database holds a password that no longer works.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}
