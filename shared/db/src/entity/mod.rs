//! sea-orm entities of the tables this crate owns.

pub mod system_config;
