//! Shoal: a BitTorrent engine.
//!
//! Crate map, from the bytes up:
//! - [`types`]: info hashes, peer ids, piece indices, blocks.
//! - [`metainfo`]: .torrent files, validated.
//! - [`bitfield`]: sets of pieces in wire order.
//! - [`picker`]: which blocks to request from which peer.
//! - [`storage`]: pieces to file spans.

pub mod bitfield;
pub mod error;
pub mod metainfo;
pub mod picker;
pub mod storage;
pub mod types;

pub use error::{Error, Result};
pub use metainfo::{FileEntry, Info, Metainfo};
pub use types::{BlockRef, InfoHash, PeerId, PieceIndex, BLOCK_LEN};
