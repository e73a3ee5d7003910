//! Databases for tests: in-memory SQLite, and a scratch PostgreSQL database per test on the server
//! named by `TEST_POSTGRES_URL` (default: the local server, `postgres://postgres@127.0.0.1:5432/test`).

use sea_orm::ConnectionTrait;

use crate::Database;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL server tests use.
pub fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A fresh, migrated in-memory SQLite database.
pub async fn sqlite_in_memory() -> Database {
    Database::open("sqlite::memory:")
        .await
        .expect("in-memory SQLite opens")
}

/// A fresh, migrated PostgreSQL database of its own, dropped by [`PostgresScratch::drop_database`].
pub struct PostgresScratch {
    pub database: Database,
    pub url: String,
    name: String,
}

impl PostgresScratch {
    pub async fn create() -> Self {
        let mut scratch = Self::create_empty().await;
        scratch.database = Database::open(&scratch.url)
            .await
            .expect("open scratch database");
        scratch
    }

    /// A fresh database with no schema yet (for tests of migrating it).
    pub async fn create_empty() -> Self {
        let server_url = postgres_url();
        let admin = Database::connect(&server_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL for tests ({server_url}): {e}"));
        let name = format!("spot_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .connection()
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create scratch database");
        let _ = admin.close().await;
        let url = with_database(&server_url, &name);
        let database = Database::connect(&url)
            .await
            .expect("connect to scratch database");
        Self {
            database,
            url,
            name,
        }
    }

    pub async fn drop_database(self) {
        let _ = self.database.close().await;
        if let Ok(admin) = Database::connect(&postgres_url()).await {
            let _ = admin
                .connection()
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
            let _ = admin.close().await;
        }
    }
}

fn with_database(server_url: &str, database: &str) -> String {
    let mut url = url::Url::parse(server_url).expect("TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}
