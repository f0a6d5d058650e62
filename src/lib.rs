//! Shoal: a BitTorrent engine.
//!
//! Crate map, from the bytes up:
//! - [`types`]: info hashes, peer ids, piece indices, blocks.
//! - [`bencode`]: size/depth pre-checks, raw value spans, a small writer.
//! - [`metainfo`]: .torrent files, validated; path sanitising.
//! - [`storage`]: pieces to file spans.
//! - [`wire`]: the peer wire protocol as pure data: handshake, messages, codec, extensions.
//! - [`peer`]: peer connections; [`peer::client`] names a peer's client.
//! - [`dht`]: the mainline DHT (BEP 5) over the `mainline` crate: lookups, announces, state.

pub mod bencode;
pub mod dht;
pub mod error;
pub mod metainfo;
pub mod peer;
pub mod storage;
pub mod types;
pub mod wire;

pub use error::{Error, Result};
pub use metainfo::{FileEntry, Info, Metainfo, MetainfoError};
pub use types::{BlockRef, InfoHash, PeerId, PieceIndex, BLOCK_LEN};
