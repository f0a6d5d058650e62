//! Shoal: a BitTorrent engine.
//!
//! Crate map, from the bytes up:
//! - [`types`]: info hashes, peer ids, piece indices, blocks.
//! - [`bencode`]: size/depth pre-checks, raw value spans, a small writer.
//! - [`metainfo`]: .torrent files, validated; path sanitising.
//! - [`metadata`]: fetching the info dictionary of a magnet link (BEP 9).
//! - [`magnet`]: magnet links.
//! - [`hash`]: SHA-1 of pieces on every core.
//! - [`create`]: torrent creation from a file or folder.
//! - [`storage`]: pieces to file spans; verifying a save folder; the disk workers.
//! - [`bitfield`]: sets of pieces in wire order.
//! - [`picker`]: which block to request next.
//! - [`wire`]: the peer wire protocol as pure data: handshake, messages, codec, extensions.
//! - [`peer`]: one task per connection; [`peer::client`] names a peer's client.
//! - [`tracker`]: HTTP and UDP announces, and the per-torrent announce task.
//! - [`torrent`]: one task per torrent: picker, choker, peer list, stats.
//! - [`session`]: the public handle: one listening port, many torrents.
//! - [`portmap`]: port mapping on the home router (UPnP IGD, PCP, NAT-PMP).
//! - [`dht`]: the mainline DHT (BEP 5) over the `mainline` crate: lookups, announces, state.
//! - [`rate`]: byte counters and rates.
//! - [`resume`]: the state folder: resume records and stored metainfo, written atomically.
//! - [`limit`]: rate limits (token buckets), per torrent and per session.
//! - [`webseed`]: HTTP(S) web seeds (BEP 19).

pub mod bencode;
pub mod bitfield;
pub mod create;
pub mod dht;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
pub mod limit;
pub mod lsd;
pub mod magnet;
pub mod metadata;
pub mod metainfo;
pub mod peer;
pub mod picker;
pub mod portmap;
pub mod rate;
pub mod resume;
pub mod session;
mod stall;
pub mod storage;
pub mod torrent;
pub mod tracker;
pub mod types;
pub mod webseed;
pub mod wire;

pub use create::{create_torrent, CreateError, CreateOptions};
pub use error::{Error, Result};
pub use magnet::{Magnet, MagnetError};
pub use metainfo::{FileEntry, Info, Metainfo, MetainfoError};
pub use types::{BlockRef, InfoHash, PeerId, PieceIndex, BLOCK_LEN};
