//! Helpers shared by the integration tests; one module per area.
#![allow(dead_code)]

pub mod data;
pub mod procs;
pub mod tools;
