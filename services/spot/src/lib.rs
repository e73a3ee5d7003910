//! The `spot` binary's library: start-up, serving with graceful shutdown, migrations.

pub mod bench;
pub mod cli;
pub mod demo;
mod error;
mod health;
mod server;
pub mod solve;

pub use error::StartError;
pub use server::{RunningServer, back_up, migrate, restore, run, shutdown_signal, start, start_in};
