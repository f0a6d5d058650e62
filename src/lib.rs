//! Shoal: a BitTorrent engine.
//!
//! Crate map, from the bytes up:
//! - [`types`]: info hashes, peer ids, piece indices, blocks.
//! - [`metainfo`]: .torrent files, validated.
//! - [`storage`]: pieces to file spans.
//! - [`tracker`]: HTTP and UDP tracker announces and the per-torrent announce task.

pub mod error;
pub mod metainfo;
pub mod storage;
pub mod tracker;
pub mod types;

pub use error::{Error, Result};
pub use metainfo::{FileEntry, Info, Metainfo};
pub use types::{BlockRef, InfoHash, PeerId, PieceIndex, BLOCK_LEN};
