//! Availability zones per region. The advisor data has no zones; these are the zone names AWS
//! uses (the letters differ per account mapping, the count is what matters for diversification).

/// The zones of `region`, e.g. `us-east-1a`..; empty for an unknown region.
pub fn zones_of(region: &str) -> Vec<String> {
    let letters: &[&str] = match region {
        "us-east-1" => &["a", "b", "c", "d", "f"],
        "us-west-2" | "ap-northeast-1" | "ap-northeast-2" | "eu-west-1" | "ca-central-1" => {
            &["a", "b", "c", "d"]
        }
        "us-west-1" => &["a", "c"],
        "" => &[],
        _ => &["a", "b", "c"],
    };
    letters.iter().map(|l| format!("{region}{l}")).collect()
}
