//! How long the embedded catalog takes to parse and how much memory it holds.
//! Run: `cargo bench -p spot-cloud --bench catalog_load`.

use std::time::Instant;

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

fn main() {
    let before = resident_kib();
    let start = Instant::now();
    let catalog = spot_cloud::Catalog::embedded();
    let first = start.elapsed();
    let after = resident_kib();
    println!(
        "catalog: {} types, {} regions; first load {first:?}; resident memory +{} KiB",
        catalog.types().len(),
        catalog.regions().len(),
        after.saturating_sub(before)
    );
    let runs = 20;
    let start = Instant::now();
    for _ in 0..runs {
        let types = include_str!("../data/instance-types.csv");
        let prices = include_str!("../data/on-demand-prices.csv");
        let advisor = include_str!("../data/spot-advisor-linux.csv");
        let parsed = spot_cloud::Catalog::parse(types, prices, advisor).expect("parses");
        std::hint::black_box(parsed);
    }
    println!(
        "catalog parse: {:?} per load (mean of {runs})",
        start.elapsed() / runs
    );
}
