//! Helpers shared by the integration tests: real peer processes, test data
//! and bounded waits.
#![allow(dead_code)]

pub mod data;
pub mod procs;
