//! `spot backup` and `spot restore` on the embedded SQLite default, as an operator runs them:
//! a backup taken while the platform serves brings back every tenant, cluster, policy and audit
//! row it held, and nothing written after it.

use std::process::{Command, Output};

use spot_proto::auth::v1::ListAuditEventsRequest;
use spot_proto::auth::v1::audit_service_client::AuditServiceClient;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::cluster::v1::{ListClustersRequest, RegisterClusterRequest};
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use spot_proto::policy::v1::{GetPolicyRequest, Policy, UpdatePolicyRequest};
use spot_testkit::{TestServer, authed};

fn spot(data_dir: &std::path::Path, database_url: &str, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spot"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SPOT_DATA_DIR", data_dir)
        .env("SPOT_DATABASE_URL", database_url)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

struct Filled {
    owner: spot_testkit::TestUser,
    cluster_id: String,
}

/// A tenant with a cluster and a policy (and their audit trail).
async fn fill(test: &TestServer) -> Filled {
    let owner = test.sign_up("Backed Up Co").await;
    let cluster = ClusterServiceClient::new(test.channel.clone())
        .register_cluster(authed(
            RegisterClusterRequest {
                name: "kept".into(),
                region: "us-east-1".into(),
                ..Default::default()
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .cluster
        .unwrap();
    PolicyServiceClient::new(test.channel.clone())
        .update_policy(authed(
            UpdatePolicyRequest {
                policy: Some(Policy {
                    cluster_id: cluster.id.clone(),
                    spot_percent: 70,
                    max_interruption_bucket: 2,
                    ..Default::default()
                }),
            },
            &owner.access_token,
        ))
        .await
        .unwrap();
    Filled {
        owner,
        cluster_id: cluster.id,
    }
}

/// What `fill` wrote is back, and the tenant signed up after the backup is not.
async fn find_back(test: &TestServer, filled: &Filled, later: &spot_testkit::TestUser) {
    let token = test
        .login(&filled.owner.email, &filled.owner.password)
        .await;
    let clusters = ClusterServiceClient::new(test.channel.clone())
        .list_clusters(authed(ListClustersRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .clusters;
    assert_eq!(
        clusters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["kept"]
    );
    let policy = PolicyServiceClient::new(test.channel.clone())
        .get_policy(authed(
            GetPolicyRequest {
                cluster_id: filled.cluster_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(policy.spot_percent, 70);
    let audit = AuditServiceClient::new(test.channel.clone())
        .list_audit_events(authed(ListAuditEventsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(
        audit.iter().any(|e| e.target.contains(&filled.cluster_id)),
        "the audit trail of the cluster is back: {audit:?}"
    );
    let gone = test
        .auth()
        .login(spot_proto::auth::v1::LoginRequest {
            email: later.email.clone(),
            password: later.password.clone(),
            ..Default::default()
        })
        .await;
    assert!(
        gone.is_err(),
        "a tenant signed up after the backup is not restored"
    );
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_tenants_clusters_policies_and_audit() {
    let data = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let database_url = format!(
        "sqlite://{}?mode=rwc",
        data.path().join("spot.db").display()
    );
    let data_dir = data.path().display().to_string();
    let env = [
        ("SPOT_DATA_DIR", data_dir.as_str()),
        ("SPOT_DATABASE_URL", database_url.as_str()),
    ];
    let test = TestServer::start(&env).await;
    let filled = fill(&test).await;

    // Online: the platform keeps serving.
    let backup = elsewhere.path().join("spot-backup.db");
    let backed_up = spot(
        data.path(),
        &database_url,
        &["backup".as_ref(), backup.as_ref()],
    );
    assert!(backed_up.status.success(), "{}", stderr(&backed_up));
    assert!(
        String::from_utf8_lossy(&backed_up.stdout).contains("master.key"),
        "the operator is told to keep the master key with the backup"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "a backup holds password hashes: its owner's only"
        );
    }
    let again = spot(
        data.path(),
        &database_url,
        &["backup".as_ref(), backup.as_ref()],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    // Written after the backup: not in it.
    let later = test.sign_up("Later Co").await;

    let while_serving = spot(
        data.path(),
        &database_url,
        &["restore".as_ref(), backup.as_ref()],
    );
    assert_eq!(while_serving.status.code(), Some(2));
    assert!(
        stderr(&while_serving).contains("stop every spot process"),
        "{}",
        stderr(&while_serving)
    );
    let not_a_database = elsewhere.path().join("notes.txt");
    std::fs::write(&not_a_database, "not a database").unwrap();
    test.stop().await;
    let refused = spot(
        data.path(),
        &database_url,
        &["restore".as_ref(), not_a_database.as_ref()],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));

    let restored = spot(
        data.path(),
        &database_url,
        &["restore".as_ref(), backup.as_ref()],
    );
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert!(data.path().join("spot.db.before-restore").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let restored = std::fs::metadata(data.path().join("spot.db")).unwrap();
        assert_eq!(restored.permissions().mode() & 0o777, 0o600);
    }

    let test = TestServer::start(&env).await;
    find_back(&test, &filled, &later).await;
    test.stop().await;
}

/// The README's PostgreSQL procedure: `pg_dump` while the platform serves, `pg_restore` into an
/// empty database, the platform started on it.
#[tokio::test]
async fn the_postgres_procedure_restores_tenants_clusters_policies_and_audit() {
    let source = spot_db::testing::PostgresScratch::create().await;
    let test = TestServer::start(&[("SPOT_DATABASE_URL", source.url.as_str())]).await;
    let filled = fill(&test).await;
    let dump = tempfile::tempdir().unwrap().keep().join("spot.dump");
    let dumped = Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(&source.url)
        .output()
        .expect("pg_dump is installed with PostgreSQL");
    assert!(dumped.status.success(), "{}", stderr(&dumped));
    let later = test.sign_up("Later Co").await;
    test.stop().await;

    let target = spot_db::testing::PostgresScratch::create_empty().await;
    let restored = Command::new("pg_restore")
        .args(["--no-owner", "--dbname", &target.url])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", stderr(&restored));
    let test = TestServer::start(&[("SPOT_DATABASE_URL", target.url.as_str())]).await;
    find_back(&test, &filled, &later).await;
    test.stop().await;
    let _ = std::fs::remove_dir_all(dump.parent().unwrap());
    source.drop_database().await;
    target.drop_database().await;
}
