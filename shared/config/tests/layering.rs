use std::collections::BTreeMap;
use std::io::Write;

use spot_config::{Config, ConfigError, ConfigLayer, ServiceName, ensure_data_dir_writable};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(env_pairs: &[(&str, &str)], flags: ConfigLayer) -> Result<Config, ConfigError> {
    Config::load(None, &env(env_pairs), flags)
}

#[test]
fn defaults_run_everything_embedded_on_localhost() {
    let config = load(&[], ConfigLayer::default()).expect("defaults are valid");
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.data_dir.to_str(), Some("./spot-data"));
    assert!(
        config
            .database_url
            .starts_with("sqlite://./spot-data/spot.db")
    );
    assert_eq!(config.redis_url, None);
    assert_eq!(config.services, ServiceName::ALL.to_vec());
    assert_eq!(
        config.url_of(ServiceName::Risk).as_deref(),
        Some("http://127.0.0.1:8080")
    );
}

#[test]
fn file_then_env_then_flags_each_override_the_layer_below() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "listen = \"127.0.0.1:7000\"\nlog = \"debug\"\ndata_dir = \"/tmp/from-file\""
    )
    .unwrap();
    let flags = ConfigLayer {
        data_dir: Some("/tmp/from-flag".into()),
        ..Default::default()
    };
    let config = Config::load(
        Some(file.path()),
        &env(&[
            ("SPOT_LISTEN", "127.0.0.1:7001"),
            ("SPOT_DATA_DIR", "/tmp/from-env"),
        ]),
        flags,
    )
    .unwrap();
    assert_eq!(config.log, "debug", "file beats defaults");
    assert_eq!(
        config.listen.to_string(),
        "127.0.0.1:7001",
        "env beats file"
    );
    assert_eq!(
        config.data_dir.to_str(),
        Some("/tmp/from-flag"),
        "flags beat env"
    );
}

#[test]
fn unknown_file_key_is_a_one_line_error_naming_it() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "listn = \"127.0.0.1:7000\"").unwrap();
    let error = Config::load(Some(file.path()), &env(&[]), ConfigLayer::default()).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("unknown field `listn`"), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");
}

#[test]
fn unknown_spot_env_var_is_refused() {
    let error = load(&[("SPOT_LISTN", "x")], ConfigLayer::default()).unwrap_err();
    assert_eq!(error.setting, "SPOT_LISTN");
    assert!(error.problem.contains("unknown setting"));
}

#[test]
fn malformed_urls_name_the_setting() {
    let error = load(
        &[("SPOT_DATABASE_URL", "mysql://x/y")],
        ConfigLayer::default(),
    )
    .unwrap_err();
    assert_eq!(error.setting, "database_url");
    assert!(
        error.problem.contains("scheme `mysql`"),
        "{}",
        error.problem
    );

    let error = load(&[("SPOT_REDIS_URL", "not a url")], ConfigLayer::default()).unwrap_err();
    assert_eq!(error.setting, "redis_url");

    let error = load(&[("SPOT_LISTEN", "localhost")], ConfigLayer::default()).unwrap_err();
    assert_eq!(error.setting, "listen");

    let error = load(
        &[("SPOT_PUBLIC_URL", "ftp://spot.example.com")],
        ConfigLayer::default(),
    )
    .unwrap_err();
    assert_eq!(error.setting, "public_url");
}

#[test]
fn a_subset_of_services_needs_the_urls_of_the_others() {
    let error = load(&[("SPOT_SERVICES", "cluster,risk")], ConfigLayer::default()).unwrap_err();
    assert_eq!(error.setting, "SPOT_AUTH_URL");

    let config = load(
        &[
            ("SPOT_SERVICES", "risk,cluster"),
            ("SPOT_AUTH_URL", "http://auth:8080"),
            ("SPOT_POLICY_URL", "http://policy:8080"),
            ("SPOT_BILLING_URL", "http://billing:8080"),
            ("SPOT_OPTIMIZER_URL", "http://optimizer:8080"),
            ("SPOT_INTERNAL_SECRET", "0123456789abcdef0123456789abcdef"),
        ],
        ConfigLayer::default(),
    )
    .unwrap();
    assert_eq!(
        config.services,
        vec![ServiceName::Cluster, ServiceName::Risk]
    );
    assert_eq!(
        config.url_of(ServiceName::Auth).as_deref(),
        Some("http://auth:8080")
    );
    assert_eq!(
        config.url_of(ServiceName::Cluster).as_deref(),
        Some("http://127.0.0.1:8080")
    );
}

#[test]
fn unknown_service_names_are_listed() {
    let error = load(&[("SPOT_SERVICES", "cluster,rsik")], ConfigLayer::default()).unwrap_err();
    assert_eq!(error.setting, "services");
    assert!(error.problem.contains("unknown service `rsik`"));
}

#[test]
fn the_admin_port_is_loopback_by_default_and_can_be_off() {
    let default = load(&[], ConfigLayer::default()).unwrap();
    assert_eq!(
        default.admin_listen.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:9090")
    );
    let off = load(&[("SPOT_ADMIN_LISTEN", "off")], ConfigLayer::default()).unwrap();
    assert_eq!(off.admin_listen, None);
    assert!(off.to_toml().contains("admin_listen = \"off\""));
    let error = load(&[("SPOT_ADMIN_LISTEN", "9090")], ConfigLayer::default()).unwrap_err();
    assert_eq!(error.setting, "admin_listen");
    let same = load(
        &[
            ("SPOT_LISTEN", "127.0.0.1:8080"),
            ("SPOT_ADMIN_LISTEN", "127.0.0.1:8080"),
        ],
        ConfigLayer::default(),
    )
    .unwrap_err();
    assert_eq!(same.setting, "admin_listen");
}

#[test]
fn trusted_proxies_are_networks_and_none_by_default() {
    assert!(
        load(&[], ConfigLayer::default())
            .unwrap()
            .trusted_proxies
            .is_empty()
    );
    let config = load(
        &[("SPOT_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7,fd00::/8")],
        ConfigLayer::default(),
    )
    .unwrap();
    let listed: Vec<String> = config
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(listed, ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"]);
    assert!(config.to_toml().contains("trusted_proxies"));
    let error = load(
        &[("SPOT_TRUSTED_PROXIES", "10.0.0.0/8,the-load-balancer")],
        ConfigLayer::default(),
    )
    .unwrap_err();
    assert_eq!(error.setting, "trusted_proxies");
    assert!(error.problem.contains("the-load-balancer"), "{error}");
}

#[test]
fn wildcard_cors_origin_is_refused() {
    let error = load(&[("SPOT_CORS_ORIGINS", "*")], ConfigLayer::default()).unwrap_err();
    assert_eq!(error.setting, "cors_origins");
}

#[test]
fn cors_origins_must_be_bare_origins() {
    for (given, bare) in [
        ("https://app.example.com/", "https://app.example.com"),
        ("https://app.example.com/console", "https://app.example.com"),
        ("http://localhost:5173/?x=1", "http://localhost:5173"),
    ] {
        let error = load(&[("SPOT_CORS_ORIGINS", given)], ConfigLayer::default()).unwrap_err();
        assert_eq!(error.setting, "cors_origins");
        assert!(
            error.problem.contains(&format!("use `{bare}`")),
            "{}",
            error.problem
        );
    }
    let config = load(
        &[(
            "SPOT_CORS_ORIGINS",
            "https://app.example.com,http://localhost:5173",
        )],
        ConfigLayer::default(),
    )
    .unwrap();
    assert_eq!(config.cors_origins.len(), 2);
}

#[test]
fn dump_hides_database_password() {
    let config = load(
        &[("SPOT_DATABASE_URL", "postgres://spot:secret@db:5432/spot")],
        ConfigLayer::default(),
    )
    .unwrap();
    let dump = config.to_toml();
    assert!(
        dump.contains("REDACTED") && !dump.contains("secret"),
        "{dump}"
    );
}

#[test]
fn unwritable_data_dir_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let error = ensure_data_dir_writable(&file.join("sub")).unwrap_err();
    assert_eq!(error.setting, "data_dir");
    assert!(error.problem.contains("is not writable"));
}

#[test]
fn the_distributed_mode_needs_a_long_internal_secret() {
    let urls = [
        ("SPOT_SERVICES", "auth"),
        ("SPOT_CLUSTER_URL", "http://c:1"),
        ("SPOT_POLICY_URL", "http://c:1"),
        ("SPOT_BILLING_URL", "http://c:1"),
        ("SPOT_RISK_URL", "http://c:1"),
        ("SPOT_OPTIMIZER_URL", "http://c:1"),
    ];
    let error = load(&urls, ConfigLayer::default()).unwrap_err();
    assert_eq!(error.setting, "internal_secret");
    let mut short = urls.to_vec();
    short.push(("SPOT_INTERNAL_SECRET", "short"));
    let error = load(&short, ConfigLayer::default()).unwrap_err();
    assert!(error.problem.contains("at least 32"), "{}", error.problem);
}

#[test]
fn admin_email_and_password_come_together_and_are_never_dumped() {
    let error = load(&[("SPOT_ADMIN_EMAIL", "a@b.c")], ConfigLayer::default()).unwrap_err();
    assert_eq!(error.setting, "admin_password");
    let config = load(
        &[
            ("SPOT_ADMIN_EMAIL", "a@b.c"),
            ("SPOT_ADMIN_PASSWORD", "Correct-Horse-9"),
        ],
        ConfigLayer::default(),
    )
    .unwrap();
    assert!(!config.to_toml().contains("Correct-Horse-9"));
}

#[test]
fn limits_come_from_the_files_table_and_spot_limit_variables() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "[limits]\nclusters_per_tenant = 7\nkeep_plans_days = 10"
    )
    .unwrap();
    let config = Config::load(
        Some(file.path()),
        &env(&[("SPOT_LIMIT_KEEP_PLANS_DAYS", "3")]),
        ConfigLayer::default(),
    )
    .unwrap();
    assert_eq!(config.limits.clusters_per_tenant, 7, "from the file");
    assert_eq!(config.limits.keep_plans_days, 3, "env beats file");
    assert_eq!(config.limits.nodes_per_cluster, 5_000, "the default");
    assert!(
        config.to_toml().contains("[limits]"),
        "{}",
        config.to_toml()
    );
    let typo = load(&[("SPOT_LIMIT_CLUSTERS", "3")], ConfigLayer::default()).unwrap_err();
    assert_eq!(
        typo.to_string(),
        "config `limits.clusters`: unknown limit (see the limits table in README.md)"
    );
    let word = load(
        &[("SPOT_LIMIT_KEEP_PLANS_DAYS", "ten")],
        ConfigLayer::default(),
    )
    .unwrap_err();
    assert_eq!(word.setting, "SPOT_LIMIT_KEEP_PLANS_DAYS");
}
