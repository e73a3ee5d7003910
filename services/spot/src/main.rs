//! `spot`: runs any set of the platform's services, migrates the database, prints the config.

use std::process::ExitCode;

use clap::Parser;
use spot_server::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let config = match cli.load_config(env.clone()) {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    if cli.dump_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    let flags = cli.flags();
    let result = match cli.command {
        Some(Command::Serve) => spot_server::run(config, spot_server::shutdown_signal()).await,
        // The demo layers its own settings (data dir, logins, web app) over the same sources.
        Some(Command::Demo(args)) => {
            let signal = spot_server::shutdown_signal();
            spot_server::demo::run(flags, env, cli.config.as_deref(), args, signal).await
        }
        Some(Command::Migrate) => spot_server::migrate(&config).await,
        Some(Command::Backup { file }) => spot_server::back_up(&config, &file).await,
        Some(Command::Restore { file }) => spot_server::restore(&config, &file).await,
        Some(Command::Bench(bench)) => {
            return match spot_server::bench::run(bench).await {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(&error),
            };
        }
        Some(Command::Solve { input, output }) => {
            return match spot_server::solve::run(&input, output.as_deref()) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(&error),
            };
        }
        None => {
            eprintln!(
                "spot: give a command (serve, demo, migrate, backup, restore, bench, solve) or --dump-config; see spot --help"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("spot: error: {error}");
    ExitCode::from(2)
}
