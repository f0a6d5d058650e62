//! The diagnosis of a torrent ("Why is it slow?") as the window receives
//! it: the engine's cause, evidence and fix, with the cause as an enum the
//! window styles and tests by.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// "Why is it slow?": the engine's answer for one torrent.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
pub struct Diagnosis {
    /// The cause, for styling and tests.
    pub cause: Cause,
    /// The cause in a few words.
    pub title: String,
    /// The facts behind it, with numbers.
    pub evidence: String,
    /// What to do; empty when nothing is to be done.
    pub fix: String,
}

impl From<&shoal::torrent::diagnosis::Diagnosis> for Diagnosis {
    fn from(d: &shoal::torrent::diagnosis::Diagnosis) -> Self {
        Diagnosis {
            cause: d.cause.into(),
            title: d.cause.title().to_string(),
            evidence: d.evidence.clone(),
            fix: d.fix.clone(),
        }
    }
}

/// What limits a torrent now (the engine's `diagnosis::Cause`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, TS)]
#[serde(rename_all = "camelCase")]
pub enum Cause {
    /// No peer address known.
    NoPeers,
    /// Dials under way, none answered yet.
    Connecting,
    /// Every dial failed.
    PeersUnreachable,
    /// The disk write queue is full.
    Disk,
    /// Our download limit is reached.
    DownloadLimit,
    /// No connected peer has a piece we need.
    PiecesMissing,
    /// Peers choke us and our upload limit is very low.
    UploadLimit,
    /// Every useful peer chokes us.
    Choked,
    /// Nobody can dial us.
    NotConnectable,
    /// Nothing wrong.
    Fine,
    /// Fetching a magnet's metadata.
    FetchingMetadata,
    /// Checking data.
    Checking,
    /// Paused.
    Paused,
    /// Stopped by an error.
    Error,
    /// Complete.
    Complete,
}

impl From<shoal::torrent::diagnosis::Cause> for Cause {
    fn from(c: shoal::torrent::diagnosis::Cause) -> Self {
        use shoal::torrent::diagnosis::Cause as E;
        match c {
            E::NoPeers => Cause::NoPeers,
            E::Connecting => Cause::Connecting,
            E::PeersUnreachable => Cause::PeersUnreachable,
            E::Disk => Cause::Disk,
            E::DownloadLimit => Cause::DownloadLimit,
            E::PiecesMissing => Cause::PiecesMissing,
            E::UploadLimit => Cause::UploadLimit,
            E::Choked => Cause::Choked,
            E::NotConnectable => Cause::NotConnectable,
            E::Fine => Cause::Fine,
            E::FetchingMetadata => Cause::FetchingMetadata,
            E::Checking => Cause::Checking,
            E::Paused => Cause::Paused,
            E::Error => Cause::Error,
            E::Complete => Cause::Complete,
        }
    }
}
