//! The storage contract: the same behaviour on SQLite and on PostgreSQL.

use sea_orm::ConnectionTrait;
use spot_db::{Database, DbError, SystemSettings, SystemSettingsStore, storage_contract_suite};

async fn migrations_are_recorded_and_rerunning_them_changes_nothing(db: Database) {
    let applied = db.applied_migrations().await.unwrap();
    assert!(!applied.is_empty(), "open() applies the migrations");
    db.migrate().await.expect("migrating twice is harmless");
    assert_eq!(db.applied_migrations().await.unwrap(), applied);
}

async fn unset_system_settings_read_as_defaults(db: Database) {
    let store = SystemSettingsStore::new(db);
    assert_eq!(store.get().await.unwrap(), SystemSettings::default());
    assert_eq!(store.last_change().await.unwrap(), None);
}

async fn system_settings_round_trip_and_record_who_changed_them(db: Database) {
    let store = SystemSettingsStore::new(db);
    let settings = SystemSettings {
        safe_mode: true,
        global_risk_ttl_seconds: 600,
    };
    store.put(&settings, "user:admin-1").await.unwrap();
    assert_eq!(store.get().await.unwrap(), settings);

    let again = SystemSettings {
        safe_mode: false,
        ..settings
    };
    store.put(&again, "user:admin-2").await.unwrap();
    assert_eq!(
        store.get().await.unwrap(),
        again,
        "an update replaces, never duplicates"
    );
    let (who, _) = store.last_change().await.unwrap().unwrap();
    assert_eq!(who, "user:admin-2");
}

async fn a_duplicate_key_is_already_exists_not_an_internal_error(db: Database) {
    let insert =
        "INSERT INTO system_config (key, value, updated_at, updated_by) VALUES ('k', 'v', 0, 't')";
    db.connection().execute_unprepared(insert).await.unwrap();
    let error: DbError = db
        .connection()
        .execute_unprepared(insert)
        .await
        .unwrap_err()
        .into();
    assert!(matches!(error, DbError::AlreadyExists(_)), "{error:?}");
}

async fn a_schema_newer_than_the_binary_is_refused(db: Database) {
    db.connection()
        .execute_unprepared(
            "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20991231_000001_from_the_future', 0)",
        )
        .await
        .unwrap();
    let error = db.migrate().await.unwrap_err();
    assert!(matches!(error, DbError::NewerSchema { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("m20991231_000001_from_the_future") && !message.contains('\n'),
        "{message}"
    );
}

storage_contract_suite!(
    migrations_are_recorded_and_rerunning_them_changes_nothing,
    unset_system_settings_read_as_defaults,
    system_settings_round_trip_and_record_who_changed_them,
    a_duplicate_key_is_already_exists_not_an_internal_error,
    a_schema_newer_than_the_binary_is_refused,
);

#[tokio::test]
async fn an_unreachable_database_is_one_clear_error() {
    let error = Database::open("postgres://nobody:secret@127.0.0.1:1/none")
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("database_url: cannot connect to"),
        "{message}"
    );
    assert!(!message.contains("secret"), "password redacted: {message}");
}

/// Replicas and a migration Job start together on one new database: one migrates, the others
/// wait for it and find the schema done.
#[tokio::test]
async fn processes_that_start_together_on_postgres_migrate_once() {
    let scratch = spot_db::testing::PostgresScratch::create_empty().await;
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let url = scratch.url.clone();
            tokio::spawn(async move { Database::open(&url).await })
        })
        .collect();
    for opened in opening {
        let db = opened.await.unwrap().expect("every process starts");
        db.close().await.unwrap();
    }
    let every_migration = spot_db::testing::sqlite_in_memory()
        .await
        .applied_migrations()
        .await
        .unwrap();
    assert_eq!(
        scratch.database.applied_migrations().await.unwrap(),
        every_migration
    );
    scratch.drop_database().await;
}

#[tokio::test]
async fn processes_that_start_together_on_one_sqlite_file_migrate_once() {
    let dir = std::env::temp_dir().join(format!("spot-migrate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("spot.db").display());
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Database::open(&url).await })
        })
        .collect();
    for opened in opening {
        let db = opened.await.unwrap().expect("every process starts");
        db.close().await.unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
