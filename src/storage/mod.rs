//! Where a torrent's bytes live on disk: the mapping from pieces to file
//! spans (`layout`), and checking a save folder against a torrent (`verify`).

pub mod layout;
pub mod verify;

pub use layout::{FileSpan, Layout};
pub use verify::verify;
