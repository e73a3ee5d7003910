//! `cargo run --release -p spot-engine --example bench -- --scenario karpenter --pods 10000
//! [--seed S] [--dump FILE]`: prints one JSON object (see `spot_engine::bench_report`).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut scenario = String::from("karpenter");
    let mut pods = 1000usize;
    let mut seed = 1u64;
    let mut dump: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        let parsed = match (flag.as_str(), value) {
            ("--scenario", Some(v)) => {
                scenario = v;
                Ok(())
            }
            ("--pods", Some(v)) => v
                .parse()
                .map(|n| pods = n)
                .map_err(|_| format!("--pods: `{v}` is not a number")),
            ("--seed", Some(v)) => v
                .parse()
                .map(|n| seed = n)
                .map_err(|_| format!("--seed: `{v}` is not a number")),
            ("--dump", Some(v)) => {
                dump = Some(PathBuf::from(v));
                Ok(())
            }
            (other, _) => Err(format!(
                "unknown or incomplete argument `{other}`; usage: --scenario karpenter|catalog --pods N [--seed S] [--dump FILE]"
            )),
        };
        if let Err(e) = parsed {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    }
    match spot_engine::bench_report(&scenario, pods, seed, dump.as_deref()) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
