//! The error every command returns. It reaches the UI as
//! `{ "kind": "...", "message": "..." }`: `kind` for the code to branch on,
//! `message` a sentence the window shows as it is.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The path field was empty.
    #[error("no file given: enter the path of a .torrent file")]
    NoPath,
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path as the user gave it.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The path names a folder or a device, not a file.
    #[error("{path} is not a file")]
    NotAFile {
        /// The path as the user gave it.
        path: String,
    },
    /// The file is larger than any .torrent we accept, so it is not read.
    #[error("{path} is {len} bytes, larger than the {limit} bytes a .torrent file may have")]
    TooLarge {
        /// The path as the user gave it.
        path: String,
        /// The file's size.
        len: u64,
        /// The limit, `shoal::metainfo::MAX_METAINFO_LEN`.
        limit: usize,
    },
    /// The engine refused the contents.
    #[error("{path} is not a valid .torrent file: {reason}")]
    BadTorrent {
        /// The path as the user gave it.
        path: String,
        /// The engine's explanation.
        reason: String,
    },
    /// The magnet field was empty.
    #[error("no magnet link given: paste a link starting with magnet:?")]
    NoMagnet,
    /// The text is not a usable magnet link.
    #[error("this is not a usable magnet link: {reason}")]
    BadMagnet {
        /// The engine's explanation.
        reason: String,
    },
    /// The torrent is in the list already.
    #[error("\"{name}\" is already in the list")]
    Duplicate {
        /// The torrent's name.
        name: String,
    },
    /// The engine refused to add a torrent.
    #[error("the torrent could not be added: {reason}")]
    Engine {
        /// The engine's explanation.
        reason: String,
    },
    /// The engine did not start (see the start-up message).
    #[error("the engine is not running, so torrents cannot be added or changed; see the message shown at start-up")]
    NoEngine,
    /// An id that names no torrent in the session.
    #[error("no torrent {id} in the list (it may have been removed)")]
    UnknownTorrent {
        /// The id given.
        id: String,
    },
    /// Creating a torrent failed.
    #[error("the torrent could not be created: {reason}")]
    Create {
        /// The engine's explanation.
        reason: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The settings could not be saved.
    #[error("{reason}")]
    Settings {
        /// What went wrong, a sentence.
        reason: String,
    },
    /// The window sent something the command cannot use.
    #[error("{reason}")]
    BadRequest {
        /// What is wrong with it, a sentence.
        reason: String,
    },
    /// A blocking task did not finish.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CommandError {
    /// A stable name for the variant, for the UI to branch on.
    pub fn kind(&self) -> &'static str {
        match self {
            CommandError::NoPath => "noPath",
            CommandError::Read { .. } => "read",
            CommandError::NotAFile { .. } => "notAFile",
            CommandError::TooLarge { .. } => "tooLarge",
            CommandError::BadTorrent { .. } => "badTorrent",
            CommandError::NoMagnet => "noMagnet",
            CommandError::BadMagnet { .. } => "badMagnet",
            CommandError::Duplicate { .. } => "duplicate",
            CommandError::Engine { .. } => "engine",
            CommandError::NoEngine => "noEngine",
            CommandError::UnknownTorrent { .. } => "unknownTorrent",
            CommandError::Create { .. } => "create",
            CommandError::Write { .. } => "write",
            CommandError::Settings { .. } => "settings",
            CommandError::BadRequest { .. } => "badRequest",
            CommandError::Internal(_) => "internal",
        }
    }
}

impl Serialize for CommandError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CommandError", 2)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_kind_and_message() {
        let json = serde_json::to_value(CommandError::NotAFile {
            path: "/tmp".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "kind": "notAFile", "message": "/tmp is not a file" })
        );
    }
}
