//! Seeded benchmark problems, runnable by anyone: `karpenter` (Karpenter's synthetic benchmark
//! shape) and `catalog` (the real embedded EC2 catalog with a realistic pod mix and policy).

mod catalog;
mod karpenter;

pub use catalog::catalog;
pub use karpenter::karpenter;

/// A scenario by name ("karpenter" or "catalog").
pub fn by_name(name: &str, pods: usize, seed: u64) -> Option<crate::model::Problem> {
    match name {
        "karpenter" => Some(karpenter(pods, seed)),
        "catalog" => Some(catalog(pods, seed)),
        _ => None,
    }
}
