//! Message Stream Encryption (MSE, also called protocol encryption, PE):
//! the obfuscated handshake that Vuze, libtorrent, Transmission and aria2
//! speak, and the RC4 stream it may set up.
//!
//! The handshake (`handshake.rs`) agrees on a secret by Diffie-Hellman
//! over a 768-bit prime, keys RC4 both ways from it and the torrent's info
//! hash, and lets the peers choose full-stream RC4 or plaintext after the
//! handshake ("header-only"). `stream.rs` is the stream that follows.
//!
//! Our modes ([`Encryption`]): `Off` never encrypts and refuses encrypted
//! peers; `Prefer` (the default) dials with MSE first, falling back to a
//! plain connection when the peer will not have it, and answers both; and
//! `Require` speaks nothing but RC4, either direction. The addresses that
//! refused MSE are remembered ([`EncryptionPolicy`]) and dialled plain
//! from then on.

mod handshake;
mod stream;

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub(crate) use handshake::ScriptedInitiator;
pub use handshake::{initiate, req2, respond, BUF_CAP, MAX_IA, MAX_PAD};
pub use stream::MseStream;

/// Whether and how connections are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encryption {
    /// Never: plain connections only, encrypted peers refused.
    Off,
    /// Dial encrypted first, fall back to plain; answer both.
    #[default]
    Prefer,
    /// Encrypted (RC4) connections only, both directions.
    Require,
}

impl Encryption {
    /// The name used by the command line and the settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Encryption::Off => "off",
            Encryption::Prefer => "prefer",
            Encryption::Require => "require",
        }
    }
}

impl std::str::FromStr for Encryption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Encryption::Off),
            "prefer" => Ok(Encryption::Prefer),
            "require" => Ok(Encryption::Require),
            _ => Err(format!("{s:?} is not off, prefer or require")),
        }
    }
}

impl std::fmt::Display for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an open connection is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Crypto {
    /// A plain BitTorrent connection.
    #[default]
    Plain,
    /// An MSE handshake, then plaintext.
    HeaderOnly,
    /// An MSE handshake, then RC4 both ways.
    Rc4,
}

impl Crypto {
    /// Whether an MSE handshake opened the connection (the Peers tab's E).
    pub fn is_encrypted(self) -> bool {
        self != Crypto::Plain
    }
}

/// Why an MSE handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum MseError {
    /// The socket failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection.
    #[error("the peer closed the connection during the encrypted handshake")]
    Closed,
    /// The peer broke the protocol or one of its bounds.
    #[error("encrypted handshake: {0}")]
    Protocol(&'static str),
    /// No torrent of ours matches the peer's.
    #[error("encrypted handshake for a torrent we do not have")]
    UnknownTorrent,
    /// The peer offered no method our mode accepts.
    #[error("no encryption method in common")]
    NoCommonMethod,
    /// Our mode refuses encrypted connections.
    #[error("encryption is off")]
    NotAllowed,
}

/// Addresses remembered as refusing MSE, at most this many (the oldest
/// forgotten first).
const MAX_PLAIN_PEERS: usize = 4096;

/// The session's encryption mode, and what it learnt of peers in
/// `Prefer` mode. Cheap to clone; clones share the memory.
#[derive(Debug, Clone, Default)]
pub struct EncryptionPolicy {
    /// The mode.
    pub mode: Encryption,
    /// Addresses that refused an encrypted handshake: dialled plain from
    /// then on, as libtorrent does, instead of failing once per dial.
    plain_peers: Arc<Mutex<PlainPeers>>,
}

#[derive(Debug, Default)]
struct PlainPeers {
    set: HashSet<SocketAddr>,
    order: VecDeque<SocketAddr>,
}

impl EncryptionPolicy {
    /// A policy with nothing learnt yet.
    pub fn new(mode: Encryption) -> Self {
        EncryptionPolicy {
            mode,
            plain_peers: Default::default(),
        }
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, PlainPeers> {
        // A poisoned lock only means a panic elsewhere; the set is sound.
        self.plain_peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a dial of `addr` starts with an MSE handshake.
    pub fn dial_encrypted(&self, addr: SocketAddr) -> bool {
        match self.mode {
            Encryption::Off => false,
            Encryption::Require => true,
            Encryption::Prefer => !self.peers().set.contains(&addr),
        }
    }

    /// Whether a plain dial may follow a failed encrypted one.
    pub fn may_fall_back(&self) -> bool {
        self.mode == Encryption::Prefer
    }

    /// `addr` refused MSE: dial it plain from now on.
    pub fn remember_plain(&self, addr: SocketAddr) {
        let mut p = self.peers();
        if p.set.insert(addr) {
            p.order.push_back(addr);
            if p.order.len() > MAX_PLAIN_PEERS {
                if let Some(old) = p.order.pop_front() {
                    p.set.remove(&old);
                }
            }
        }
    }

    /// Whether `addr` is remembered as refusing MSE.
    pub fn is_plain(&self, addr: SocketAddr) -> bool {
        self.peers().set.contains(&addr)
    }
}

#[cfg(test)]
mod tests;
