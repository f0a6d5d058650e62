//! Shoal: a BitTorrent engine.
//!
//! Crate map, from the bytes up:
//! - [`types`]: info hashes, peer ids, piece indices, blocks.
//! - [`bencode`]: size/depth pre-checks, raw value spans, a small writer.
//! - [`metainfo`]: .torrent files, validated; path sanitising.
//! - [`magnet`]: magnet links.
//! - [`hash`]: SHA-1 of pieces on every core.
//! - [`create`]: torrent creation from a file or folder.
//! - [`storage`]: pieces to file spans; verifying a save folder.

pub mod bencode;
pub mod create;
pub mod error;
pub mod hash;
pub mod magnet;
pub mod metainfo;
pub mod storage;
pub mod types;

pub use create::{create_torrent, CreateError, CreateOptions};
pub use error::{Error, Result};
pub use magnet::{Magnet, MagnetError};
pub use metainfo::{FileEntry, Info, Metainfo, MetainfoError};
pub use types::{BlockRef, InfoHash, PeerId, PieceIndex, BLOCK_LEN};
