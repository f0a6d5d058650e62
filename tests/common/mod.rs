//! Helpers shared by the integration tests; one module per area.
#![allow(dead_code)]

pub mod data;
pub mod dht;
pub mod hostile;
pub mod http;
pub mod lab;
pub mod liar;
pub mod opentracker;
pub mod procs;
pub mod swarm;
pub mod tmpfs;
pub mod tools;
pub mod tracker6;

/// Logs to the test's output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
