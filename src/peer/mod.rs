//! One task per peer connection. The task owns the socket and everything
//! that belongs to the conversation with that peer (choke and interest both
//! ways, the request pipeline, the queue of blocks to upload); the torrent
//! task owns what is shared across peers (the picker, the choker, our
//! pieces) and talks to it through two channels: `PeerCmd` in, `PeerEvent`
//! out.

pub mod client;
mod connection;
mod dial;
mod fast;
mod flood;
mod listen;
pub mod mse;
pub mod pipeline;
mod slots;
mod stream;
mod upload;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::bitfield::Bitfield;
use crate::rate::Counter;
use crate::types::{BlockRef, InfoHash, PeerId, PieceIndex};

pub use connection::{run, PeerError};
pub use dial::{accept, connect, read_incoming, Connected, Incoming, PeerSetup};
pub use fast::{ALLOWED_FAST_KEEP, SUGGEST_KEEP, SUGGEST_SEND};
pub use listen::Listeners;
pub use mse::{Crypto, Encryption, EncryptionPolicy};
pub use slots::host_key;
pub(crate) use slots::{Refusal, Slot, SlotLimits, Slots};
pub use stream::{PeerReader, PeerStream, PeerWriter, Transport};

/// A connection's id within its torrent, handed out by the torrent task.
pub use crate::picker::PeerKey;

/// What the torrent task tells a peer task.
#[derive(Debug)]
pub enum PeerCmd {
    /// Request these blocks from the peer (the picker's answer to
    /// `PeerEvent::NeedBlocks`; may be empty).
    Request {
        /// How many blocks the peer asked for, to settle its account.
        asked: usize,
        /// The blocks to request.
        blocks: Vec<BlockRef>,
    },
    /// Withdraw a request (another peer delivered the block in endgame).
    Cancel(BlockRef),
    /// We verified a piece: tell the peer.
    Have(PieceIndex),
    /// Choke (`true`) or unchoke (`false`) the peer.
    Choke(bool),
    /// Tell the peer whether we are interested in its pieces.
    Interested(bool),
    /// Send this peer exchange message (if the peer speaks ut_pex).
    Pex(crate::wire::PexMessage),
    /// We became upload-only (`true`, every wanted piece is ours) or want
    /// pieces again: tell the peer in a new extension handshake (BEP 21).
    UploadOnly(bool),
    /// Suggest the peer fetch this piece (BEP 6; sent only if the peer
    /// speaks the fast extension).
    Suggest(PieceIndex),
    /// Close the connection.
    Close,
}

/// What a peer task tells the torrent task.
#[derive(Debug)]
pub enum PeerEvent {
    /// The peer's extension handshake arrived.
    Extended {
        /// The client name decoded from the peer id and `v`.
        client: String,
        /// The port it listens on, if it said.
        listen_port: Option<u16>,
        /// It only uploads (BEP 21 `upload_only`).
        upload_only: bool,
    },
    /// The peer's pieces (from `Bitfield`, `HaveAll` or `HaveNone`). Some
    /// clients send more than one (aria2 follows have-none with a
    /// bitfield); a later one adds to what the peer has.
    Bitfield(Bitfield),
    /// The peer got a piece.
    Have(PieceIndex),
    /// The peer choked (`true`) or unchoked (`false`) us.
    Choked(bool),
    /// The peer became interested (`true`) or not in our pieces.
    Interested(bool),
    /// The peer allows us to fetch this piece while choked (BEP 6).
    AllowedFast(PieceIndex),
    /// The peer suggests we fetch this piece (BEP 6).
    Suggest(PieceIndex),
    /// The pipeline has room for this many more blocks.
    NeedBlocks(usize),
    /// Addresses the peer told us of through PEX (BEP 11).
    Pex(Vec<SocketAddr>),
    /// A block arrived and was handed to the disk.
    Received(BlockRef),
    /// Requests that will not be answered (rejected, timed out, or dropped
    /// by a choke): back to the picker.
    Returned(Vec<BlockRef>),
    /// The connection ended; `error` says why if it was not our choice.
    Closed {
        /// Why, when it failed.
        error: Option<String>,
        /// Requests still in flight.
        returned: Vec<BlockRef>,
    },
}

/// What the torrent can read about a connection at any time, written only by
/// the peer task.
#[derive(Debug)]
pub struct PeerShared {
    /// The peer's address.
    pub addr: SocketAddr,
    /// The peer's id from its handshake.
    pub peer_id: PeerId,
    /// Whether it dialled us.
    pub incoming: bool,
    /// Whether an MSE handshake opened it, and what it chose.
    pub crypto: mse::Crypto,
    /// Payload bytes received (blocks).
    pub downloaded: Counter,
    /// Payload bytes sent (blocks).
    pub uploaded: Counter,
}

/// Everything a peer task needs from its torrent when it starts.
pub struct PeerContext {
    /// This connection's key.
    pub key: PeerKey,
    /// The torrent.
    pub info_hash: InfoHash,
    /// Piece count and sizes, for the codec's checks.
    pub geometry: crate::wire::Geometry,
    /// Our verified pieces when the connection starts; kept up to date by
    /// `PeerCmd::Have`.
    pub have: Bitfield,
    /// The disk of the torrent, for writes of received blocks and reads of
    /// requested ones.
    pub disk: crate::storage::disk::Disk,
    /// Where events go.
    pub events: tokio::sync::mpsc::Sender<(PeerKey, PeerEvent)>,
    /// Readable stats.
    pub shared: Arc<PeerShared>,
    /// The port we listen on, for the extension handshake.
    pub listen_port: u16,
    /// The info dictionary's bytes, served over ut_metadata (BEP 9).
    pub metadata: Option<bytes::Bytes>,
    /// Whether to speak ut_pex (off for private torrents).
    pub pex: bool,
    /// Whether we only upload (BEP 21: every wanted piece is ours) when the
    /// connection opens; later changes come as `PeerCmd::UploadOnly`.
    pub upload_only: bool,
    /// What received blocks pass through: the torrent's download limit,
    /// then the session's.
    pub download_limit: crate::limit::LimitChain,
    /// What sent blocks pass through: the torrent's upload limit, then the
    /// session's.
    pub upload_limit: crate::limit::LimitChain,
}
