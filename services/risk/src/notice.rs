//! One interruption notice as the risk service keeps it, and the opaque name its reporter is
//! counted under: what the intake accepts and the evidence stores.

/// An interruption as the intake and the evidence need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub event_id: String,
    pub region: String,
    pub zone: String,
    pub instance_type: String,
    /// When the instance is reclaimed (or the notice time), unix milliseconds; 0 if unknown.
    pub at_millis: i64,
    /// Who saw it: the reporting tenant, or [`PLATFORM_REPORTER`] for the internal RPC.
    pub reporter: String,
}

/// The reporter of notices the platform's own services send (the internal `ReportInterruption`).
pub const PLATFORM_REPORTER: &str = "platform";

/// The opaque name a reporter is counted and remembered under: flags and evidence never hold a
/// tenant id.
pub fn reporter_name(reporter: &str) -> String {
    spot_access::hash_secret(reporter)
}
