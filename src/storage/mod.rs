//! Where a torrent's bytes live on disk: the mapping from pieces to file
//! spans (`layout`).

pub mod layout;

pub use layout::{FileSpan, Layout};
