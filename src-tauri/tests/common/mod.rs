//! Helpers shared by the desktop app's integration tests.

pub mod desktop;
pub mod process;
