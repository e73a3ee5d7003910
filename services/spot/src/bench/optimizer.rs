//! `spot bench optimizer`: the engine on Karpenter's benchmark shape or the real catalog.

use std::path::PathBuf;

pub fn run(
    scenario: &str,
    pods: usize,
    seed: u64,
    dump: Option<PathBuf>,
) -> Result<serde_json::Value, String> {
    if pods == 0 {
        return Err("invalid `--pods`: at least 1".to_owned());
    }
    spot_engine::bench_report(scenario, pods, seed, dump.as_deref())
}
