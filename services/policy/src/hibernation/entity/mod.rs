//! sea-orm entities of the hibernation tables. Times are unix milliseconds.

pub mod overrides;
pub mod runs;
pub mod schedules;
pub mod states;
