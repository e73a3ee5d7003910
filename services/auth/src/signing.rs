//! The EdDSA keys access tokens are signed with, their rotation and the JWKS.
//!
//! Private keys are stored sealed with the master key (`spot_kit::sealing`); a key stored in the
//! clear by an older version is sealed in place at start.
//!
//! The newest key signs. After a rotation the previous keys stay in the JWKS until every token they
//! signed has expired, so a rotation logs nobody out.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use spot_access::AccessClaims;
use spot_db::Database;
use spot_kit::sealing::{SharedKey, is_sealed};

use crate::entity::signing_keys;
use crate::error::{AuthError, AuthResult};

/// How long an access token lives.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Another replica's rotation is picked up within this long.
const RELOAD_EVERY: Duration = Duration::from_secs(60);

/// The fixed PKCS#8 v1 prefix of an Ed25519 private key; the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

struct ActiveKey {
    key_id: String,
    key: EncodingKey,
    loaded_at: Instant,
}

#[derive(Clone)]
pub struct SigningKeys {
    db: Database,
    master_key: SharedKey,
    active: Arc<RwLock<Option<Arc<ActiveKey>>>>,
}

impl SigningKeys {
    /// Loads the newest key, creating the first one on a new database.
    pub async fn load(db: Database, master_key: SharedKey) -> AuthResult<Self> {
        let keys = Self {
            db,
            master_key,
            active: Arc::default(),
        };
        keys.seal_clear_keys().await?;
        if keys.newest().await?.is_none() {
            keys.create().await?;
        }
        keys.reload().await?;
        Ok(keys)
    }

    /// Signs `claims` with the active key (its id in the header).
    pub async fn sign(&self, claims: &AccessClaims) -> AuthResult<String> {
        let active = self.active().await?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(active.key_id.clone());
        jsonwebtoken::encode(&header, claims, &active.key)
            .map_err(|e| AuthError::Internal(format!("token signing failed: {e}")))
    }

    /// A new key signs from now on; the old ones are published until their tokens have expired.
    pub async fn rotate(&self) -> AuthResult<String> {
        let retire_at = now_millis() + ACCESS_TOKEN_LIFETIME.as_millis() as i64 + 60_000;
        let current = signing_keys::Entity::find()
            .filter(signing_keys::Column::RetiredAt.is_null())
            .all(self.db.connection())
            .await?;
        let key_id = self.create().await?;
        for key in current {
            let mut key: signing_keys::ActiveModel = key.into();
            key.retired_at = Set(Some(retire_at));
            key.update(self.db.connection()).await?;
        }
        self.reload().await?;
        Ok(key_id)
    }

    /// The public keys still valid for verification, as RFC 7517 JSON.
    pub async fn jwks_json(&self) -> AuthResult<String> {
        let now = now_millis();
        let rows = signing_keys::Entity::find()
            .order_by_desc(signing_keys::Column::CreatedAt)
            .all(self.db.connection())
            .await?;
        let keys = rows
            .into_iter()
            .filter(|row| row.retired_at.is_none_or(|at| at > now))
            .filter_map(|row| serde_json::from_str::<Jwk>(&row.public_jwk).ok())
            .collect();
        serde_json::to_string(&JwkSet { keys })
            .map_err(|e| AuthError::Internal(format!("JWKS: {e}")))
    }

    async fn active(&self) -> AuthResult<Arc<ActiveKey>> {
        let cached = self
            .active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match cached {
            Some(active) if active.loaded_at.elapsed() < RELOAD_EVERY => Ok(active),
            _ => self.reload().await,
        }
    }

    async fn reload(&self) -> AuthResult<Arc<ActiveKey>> {
        let row = self
            .newest()
            .await?
            .ok_or_else(|| AuthError::Internal("no signing key".into()))?;
        let der = self
            .master_key
            .open(&row.private_key)
            .map_err(|e| AuthError::Internal(format!("signing key {}: {e}", row.key_id)))?;
        let active = Arc::new(ActiveKey {
            key_id: row.key_id,
            key: EncodingKey::from_ed_der(&der),
            loaded_at: Instant::now(),
        });
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = Some(active.clone());
        Ok(active)
    }

    /// Seals the private keys an older version stored in the clear (base64 of the DER).
    async fn seal_clear_keys(&self) -> AuthResult<()> {
        for row in signing_keys::Entity::find()
            .all(self.db.connection())
            .await?
        {
            if is_sealed(&row.private_key) {
                continue;
            }
            let der = STANDARD
                .decode(&row.private_key)
                .map_err(|e| AuthError::Internal(format!("signing key {}: {e}", row.key_id)))?;
            let mut row: signing_keys::ActiveModel = row.into();
            row.private_key = Set(self.master_key.seal(&der));
            row.update(self.db.connection()).await?;
        }
        Ok(())
    }

    async fn newest(&self) -> AuthResult<Option<signing_keys::Model>> {
        Ok(signing_keys::Entity::find()
            .filter(signing_keys::Column::RetiredAt.is_null())
            .order_by_desc(signing_keys::Column::CreatedAt)
            .one(self.db.connection())
            .await?)
    }

    async fn create(&self) -> AuthResult<String> {
        let seed: [u8; 32] = rand::random();
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        let key = EncodingKey::from_ed_der(&der);
        let key_id = uuid::Uuid::now_v7().simple().to_string();
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA)
            .map_err(|e| AuthError::Internal(format!("public key: {e}")))?;
        jwk.common.key_id = Some(key_id.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let public_jwk =
            serde_json::to_string(&jwk).map_err(|e| AuthError::Internal(format!("jwk: {e}")))?;
        signing_keys::ActiveModel {
            key_id: Set(key_id.clone()),
            private_key: Set(self.master_key.seal(&der)),
            public_jwk: Set(public_jwk),
            created_at: Set(now_millis()),
            retired_at: Set(None),
        }
        .insert(self.db.connection())
        .await?;
        Ok(key_id)
    }
}

pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
