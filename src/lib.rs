//! Shoal: a BitTorrent engine.
//!
//! Crate map, from the bytes up:
//! - [`types`]: info hashes, peer ids, piece indices, blocks.
//! - [`bencode`]: size/depth pre-checks, raw value spans, a small writer.
//! - [`metainfo`]: .torrent files, validated; path sanitising.
//! - [`storage`]: pieces to file spans.

pub mod bencode;
pub mod error;
pub mod metainfo;
pub mod storage;
pub mod types;

pub use error::{Error, Result};
pub use metainfo::{FileEntry, Info, Metainfo, MetainfoError};
pub use types::{BlockRef, InfoHash, PeerId, PieceIndex, BLOCK_LEN};
