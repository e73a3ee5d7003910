//! What two lives of a control plane share, so a test can stop one server and start the next on
//! the same state: one address for agents to reconnect to, one database (a fresh SQLite file, or
//! a scratch PostgreSQL database on the production backends) and one bus namespace.

use spot_db::testing::PostgresScratch;

use crate::{free_port, production_backends};

pub struct SharedStore {
    pub listen: String,
    pub database_url: String,
    pub namespace: String,
    scratch: Option<PostgresScratch>,
    _dir: tempfile::TempDir,
}

impl SharedStore {
    /// A new store; `name` prefixes the bus namespace, to tell tests apart in Redis.
    pub async fn new(name: &str) -> SharedStore {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let scratch = if production_backends() {
            Some(PostgresScratch::create().await)
        } else {
            None
        };
        let database_url = match &scratch {
            Some(scratch) => scratch.url.clone(),
            None => format!("sqlite://{}/spot.db?mode=rwc", dir.path().display()),
        };
        SharedStore {
            listen: format!("127.0.0.1:{}", free_port()),
            database_url,
            namespace: format!("{name}-{}", uuid::Uuid::new_v4().simple()),
            scratch,
            _dir: dir,
        }
    }

    /// The settings that point a server at this store.
    pub fn env(&self) -> [(&'static str, &str); 3] {
        [
            ("SPOT_LISTEN", self.listen.as_str()),
            ("SPOT_DATABASE_URL", self.database_url.as_str()),
            ("SPOT_BUS_NAMESPACE", self.namespace.as_str()),
        ]
    }

    /// Drops the scratch database, if there is one (after the last server stopped).
    pub async fn remove(self) {
        if let Some(scratch) = self.scratch {
            scratch.drop_database().await;
        }
    }
}
