//! Peer connections.

pub mod client;
