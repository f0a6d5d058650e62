//! Where a torrent's bytes live on disk: the mapping from pieces to file
//! spans (`layout`), opening paths beneath the save folder without following
//! links (`beneath`), checking a save folder against a torrent (`verify`),
//! deleting a torrent's files (`delete`), and the disk workers that write,
//! hash and read blocks (`disk`, with `piece_hash` for incremental hashing).

pub mod beneath;
pub mod delete;
pub mod disk;
mod files;
pub mod layout;
pub mod piece_hash;
mod read_cache;
pub mod verify;

pub use delete::delete_files;
pub use disk::{Disk, DiskError, DiskEvent, DiskOptions};
pub use layout::{FileSpan, Layout};
pub use verify::verify;
