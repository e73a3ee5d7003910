//! The database: one connection pool over SQLite (embedded default) or PostgreSQL, migrations run
//! at start, and the stores that live in no single service.

mod database;
pub mod entity;
mod error;
mod system_settings;
pub mod testing;

pub use database::{Backend, Database, restore_sqlite};
pub use error::{DbError, status};
pub use system_settings::{Setting, SystemSettings, SystemSettingsStore};

/// Runs one async test body against SQLite and against PostgreSQL. Every store's contract tests
/// use it so both backends are held to the same behaviour. The body is `async fn name(db: Database)`.
#[macro_export]
macro_rules! storage_contract_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = $crate::testing::sqlite_in_memory().await;
                    super::$test(db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let scratch = $crate::testing::PostgresScratch::create().await;
                    super::$test(scratch.database.clone()).await;
                    scratch.drop_database().await;
                }
            )*
        }
    };
}
