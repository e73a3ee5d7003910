//! The `spot` binary as a user runs it: clear one-line errors, and a clean exit on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

fn spot() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spot"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Test runs share the machine: never the fixed default admin port.
        .env("SPOT_ADMIN_LISTEN", "127.0.0.1:0");
    command
}

fn one_line_error(args: &[&str], env: &[(&str, &str)]) -> String {
    let data_dir = tempfile::tempdir().unwrap();
    let output = spot()
        .args(args)
        .env("SPOT_DATA_DIR", data_dir.path())
        // Any free port: a platform already running on the default one changes nothing here.
        .env("SPOT_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn bad_configuration_is_one_clear_line() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 7] = [
        (
            &["serve"],
            &[("SPOT_LISTN", "x")],
            "config `SPOT_LISTN`: unknown setting",
        ),
        (
            &["serve"],
            &[("SPOT_DATABASE_URL", "postgres//nope")],
            "config `database_url`",
        ),
        (
            &["serve"],
            &[("SPOT_REDIS_URL", "http://127.0.0.1:6379")],
            "config `redis_url`",
        ),
        (
            &["serve", "--data-dir", "/proc/no/such"],
            &[],
            "config `data_dir`",
        ),
        (
            &["serve"],
            &[
                ("SPOT_DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
                (
                    "SPOT_MASTER_KEY",
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                ),
            ],
            "database_url: cannot connect",
        ),
        (
            &["serve"],
            &[("SPOT_DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")],
            "config `master_key`: required with PostgreSQL",
        ),
        (
            &["serve"],
            &[("SPOT_MASTER_KEY", "too-short")],
            "config `master_key`: must be 32 random bytes in base64",
        ),
    ];
    for (args, env, expected) in cases {
        let stderr = one_line_error(args, env);
        assert!(
            stderr.contains(expected),
            "expected `{expected}` in: {stderr}"
        );
    }
}

#[test]
fn dump_config_prints_the_layered_settings() {
    let output = spot()
        .args(["--dump-config", "--listen", "127.0.0.1:9999"])
        .env("SPOT_LOG", "debug")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("listen = \"127.0.0.1:9999\""), "{text}");
    assert!(text.contains("log = \"debug\""), "{text}");
}

#[test]
fn migrate_applies_the_migrations_and_lists_them() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = spot()
        .args(["migrate", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("applied m20261128_000001_system_config"),
        "{text}"
    );
    assert!(data_dir.path().join("spot.db").exists());
}

#[cfg(unix)]
#[test]
fn a_new_data_dir_and_database_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("state");
    let output = spot()
        .args(["migrate", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data_dir), 0o700, "the data dir");
    assert_eq!(mode(&data_dir.join("spot.db")), 0o600, "the database");
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let data_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = spot()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir.path())
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The embedded first start creates the platform admin with a random password, prints it once
/// and keeps it in a file only the user can read; a second start prints nothing new.
#[test]
fn first_start_prints_a_random_admin_login_once() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;

    let start = |data_dir: &std::path::Path| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = spot()
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data_dir)
            .env("SPOT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The port is bound before start-up ends; an answer to /readyz means it has ended (and
        // the first-start message is out).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !ready(port) {
            assert!(std::time::Instant::now() < deadline, "never ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        assert!(child.wait().unwrap().success());
        lines
    };
    let password_in = |lines: &[String]| {
        lines.iter().find_map(|line| {
            line.trim()
                .strip_prefix("password:")
                .map(|p| p.trim().to_owned())
        })
    };

    let first_dir = tempfile::tempdir().unwrap();
    let first = start(first_dir.path());
    let password = password_in(&first).unwrap_or_else(|| panic!("no password printed: {first:?}"));
    assert!(password.len() >= 20, "{password}");
    let file = first_dir.path().join("admin-credentials.txt");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&file).unwrap().contains(&password));
    // The embedded default made its master key, readable by its owner only.
    let key = first_dir.path().join("master.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let again = start(first_dir.path());
    assert_eq!(
        password_in(&again),
        None,
        "printed once, at the first start only"
    );

    let other_dir = tempfile::tempdir().unwrap();
    let other = password_in(&start(other_dir.path())).unwrap();
    assert_ne!(
        other, password,
        "no fixed password: every installation gets its own"
    );
}

/// Whether a server on this port answers `/readyz` with 200.
fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let request = "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}
