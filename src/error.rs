//! The crate's top-level error type. Each module defines its own error enum
//! next to the code that raises it; `Error` gathers them for callers that
//! handle any failure the same way.

/// Any error the engine reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error outside a more specific context.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A bad info hash string.
    #[error(transparent)]
    Hash(#[from] crate::types::HashParseError),
    /// A .torrent file or info dictionary that is refused.
    #[error(transparent)]
    Metainfo(#[from] crate::metainfo::MetainfoError),
    /// A magnet link that is refused.
    #[error(transparent)]
    Magnet(#[from] crate::magnet::MagnetError),
    /// Torrent creation failed.
    #[error(transparent)]
    Create(#[from] crate::create::CreateError),
}

/// Result with the crate's error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
