//! `spot bench ...`: benchmarks anyone can run on their machine; each prints one JSON line.

mod agents;
mod autopilot;
mod interruptions;
mod optimizer;
mod risk;
mod signups;

use crate::cli::BenchCommand;

pub async fn run(command: BenchCommand) -> Result<String, String> {
    let report = match command {
        BenchCommand::Optimizer {
            scenario,
            pods,
            seed,
            dump,
        } => tokio::task::spawn_blocking(move || optimizer::run(&scenario, pods, seed, dump))
            .await
            .map_err(|e| e.to_string())??,
        BenchCommand::Autopilot {
            hours,
            seed,
            launch_seconds,
            churn_minutes,
            interrupt_every_hours,
            rules,
        } => {
            let rules = match rules.as_str() {
                "after" => autopilot::Rules::After,
                "before" => autopilot::Rules::Before,
                other => {
                    return Err(format!(
                        "invalid `--rules`: `{other}` is not one of after, before"
                    ));
                }
            };
            tokio::task::spawn_blocking(move || {
                autopilot::run(
                    hours,
                    seed,
                    launch_seconds,
                    churn_minutes * 60.0,
                    interrupt_every_hours * 3_600.0,
                    rules,
                )
            })
            .await
            .map_err(|e| e.to_string())??
        }
        BenchCommand::Risk {
            seed,
            pools,
            days,
            model,
        } => tokio::task::spawn_blocking(move || risk::run(seed, pools, days, model.as_deref()))
            .await
            .map_err(|e| e.to_string())??,
        BenchCommand::Agents {
            streams,
            seconds,
            target,
            pid,
            streams_per_connection,
            actions_per_second,
            connect_rate,
        } => {
            agents::run(agents::Settings {
                streams,
                seconds,
                target,
                pid,
                streams_per_connection: streams_per_connection.max(1),
                actions_per_second,
                connect_rate: connect_rate.max(1),
            })
            .await?
        }
        BenchCommand::Interruptions {
            notices,
            database_url,
            redis_url,
        } => {
            interruptions::run(interruptions::Settings {
                notices,
                database_url,
                redis_url,
            })
            .await?
        }
        BenchCommand::Signups {
            signups,
            hash_memory_mib,
        } => {
            signups::run(signups::Settings {
                signups,
                hash_memory_mib,
            })
            .await?
        }
    };
    Ok(report.to_string())
}
