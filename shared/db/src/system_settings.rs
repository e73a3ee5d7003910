use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, Set};

use crate::entity::system_config;
use crate::{Database, DbError};

/// Platform-wide settings a platform admin changes at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemSettings {
    /// Stops every mutating action platform-wide.
    pub safe_mode: bool,
    /// How long an interruption flags its pool, in seconds.
    pub global_risk_ttl_seconds: u32,
}

impl Default for SystemSettings {
    fn default() -> Self {
        Self {
            safe_mode: false,
            global_risk_ttl_seconds: 1800,
        }
    }
}

/// One setting's new value, for writing only what a caller changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    SafeMode(bool),
    GlobalRiskTtlSeconds(u32),
}

impl Setting {
    fn row(self) -> (&'static str, String) {
        match self {
            Self::SafeMode(on) => (SAFE_MODE, on.to_string()),
            Self::GlobalRiskTtlSeconds(ttl) => (GLOBAL_RISK_TTL, ttl.to_string()),
        }
    }
}

const SAFE_MODE: &str = "safe_mode";
const GLOBAL_RISK_TTL: &str = "global_risk_ttl_seconds";

/// Reads and writes [`SystemSettings`]; unset keys read as their defaults.
#[derive(Debug, Clone)]
pub struct SystemSettingsStore {
    db: Database,
}

impl SystemSettingsStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub async fn get(&self) -> Result<SystemSettings, DbError> {
        let rows = system_config::Entity::find()
            .all(self.db.connection())
            .await?;
        let mut settings = SystemSettings::default();
        for row in rows {
            match row.key.as_str() {
                SAFE_MODE => settings.safe_mode = row.value == "true",
                GLOBAL_RISK_TTL => {
                    if let Ok(ttl) = row.value.parse() {
                        settings.global_risk_ttl_seconds = ttl;
                    }
                }
                _ => {}
            }
        }
        Ok(settings)
    }

    /// Writes every setting in one statement, recording who changed it.
    pub async fn put(&self, settings: &SystemSettings, changed_by: &str) -> Result<(), DbError> {
        self.set(
            &[
                Setting::SafeMode(settings.safe_mode),
                Setting::GlobalRiskTtlSeconds(settings.global_risk_ttl_seconds),
            ],
            changed_by,
        )
        .await
    }

    /// Writes only the settings given, in one statement, recording who changed them; the others
    /// keep whatever another admin last wrote.
    pub async fn set(&self, changes: &[Setting], changed_by: &str) -> Result<(), DbError> {
        if changes.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp_millis();
        let rows = changes.iter().map(|change| {
            let (key, value) = change.row();
            system_config::ActiveModel {
                key: Set(key.to_owned()),
                value: Set(value),
                updated_at: Set(now),
                updated_by: Set(changed_by.to_owned()),
            }
        });
        system_config::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(system_config::Column::Key)
                    .update_columns([
                        system_config::Column::Value,
                        system_config::Column::UpdatedAt,
                        system_config::Column::UpdatedBy,
                    ])
                    .to_owned(),
            )
            .exec(self.db.connection())
            .await?;
        Ok(())
    }

    /// Who last changed the settings, and when (unix ms), if anyone has.
    pub async fn last_change(&self) -> Result<Option<(String, i64)>, DbError> {
        let rows = system_config::Entity::find()
            .all(self.db.connection())
            .await?;
        Ok(rows
            .into_iter()
            .max_by_key(|row| row.updated_at)
            .map(|row| (row.updated_by, row.updated_at)))
    }
}
