//! Helpers shared by the integration tests; one module per area.

pub mod tools;
