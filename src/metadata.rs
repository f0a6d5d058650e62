//! Fetching the info dictionary of a magnet link from a peer (BEP 9,
//! ut_metadata): one connection, the extension handshake, every 16 KiB
//! piece requested at once, each checked against the size the peer
//! advertised, and the whole checked against the info hash before anyone
//! uses it.
//!
//! A torrent fetches from several peers in parallel (see
//! `torrent::task::fetch_metadata`); the first copy that hashes right wins,
//! and a peer whose copy does not is dropped. Metadata is small (a few
//! hundred KiB even for large torrents), so a whole copy per peer costs
//! little and spares us from guessing which peer spoiled a mixed copy.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use sha1::{Digest, Sha1};
use tokio_util::codec::Framed;

use crate::peer::{self, PeerError, PeerSetup};
use crate::types::InfoHash;
use crate::wire::extension::{EXTENDED_HANDSHAKE_ID, LOCAL_UT_METADATA_ID, UT_METADATA};
use crate::wire::metadata::{metadata_piece_count, metadata_piece_len};
use crate::wire::{ExtendedHandshake, Message, MetadataMessage, PeerCodec};

/// Time for one peer to deliver the whole metadata.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a peer did not give us the metadata.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// Connecting or the handshake failed.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The peer does not offer ut_metadata, or gave no usable size (none,
    /// zero, or above the 32 MiB limit).
    #[error("the peer does not offer the metadata")]
    NotOffered,
    /// The peer refused a piece.
    #[error("the peer rejected metadata piece {0}")]
    Rejected(u32),
    /// A piece that does not fit the size the peer advertised.
    #[error("metadata piece {piece} does not fit: {reason}")]
    BadPiece {
        /// The piece.
        piece: u32,
        /// What was wrong.
        reason: &'static str,
    },
    /// The assembled metadata does not hash to the info hash.
    #[error("the metadata does not match the info hash")]
    HashMismatch,
    /// The peer took too long.
    #[error("timed out fetching the metadata")]
    Timeout,
    /// The peer closed the connection.
    #[error("the peer closed the connection")]
    Closed,
}

/// Connects to `addr` and fetches the info dictionary of `setup.info_hash`.
/// Returns the exact, verified bytes.
pub async fn fetch(
    addr: SocketAddr,
    setup: PeerSetup,
    listen_port: u16,
) -> Result<Bytes, MetadataError> {
    tokio::time::timeout(METADATA_TIMEOUT, fetch_inner(addr, setup, listen_port))
        .await
        .map_err(|_| MetadataError::Timeout)?
}

async fn fetch_inner(
    addr: SocketAddr,
    setup: PeerSetup,
    listen_port: u16,
) -> Result<Bytes, MetadataError> {
    let conn = peer::connect(addr, setup.clone()).await?;
    if !conn.handshake.supports_extensions() {
        return Err(MetadataError::NotOffered);
    }
    let mut framed = Framed::new(conn.stream, PeerCodec::new(None));
    let mut ours = ExtendedHandshake::ours(false);
    ours.p = Some(listen_port);
    send(
        &mut framed,
        Message::Extended {
            id: EXTENDED_HANDSHAKE_ID,
            payload: ours.encode(),
        },
    )
    .await?;
    if conn.handshake.supports_fast() {
        send(&mut framed, Message::HaveNone).await?;
    }

    // Wait for the peer's extension handshake; anything before it (its
    // bitfield, haves) is of no use to us yet.
    let (their_id, size) = loop {
        match next(&mut framed).await? {
            Message::Extended {
                id: EXTENDED_HANDSHAKE_ID,
                payload,
            } => {
                let hs = ExtendedHandshake::decode(&payload).map_err(PeerError::from)?;
                match (hs.extension_id(UT_METADATA), hs.metadata_size) {
                    (Some(id), Some(size)) => break (id, size),
                    _ => return Err(MetadataError::NotOffered),
                }
            }
            _ => continue,
        }
    };

    // The size is at most MAX_METAINFO_LEN (checked on decode), so the
    // buffer is bounded.
    let size_usize = usize::try_from(size).map_err(|_| MetadataError::NotOffered)?;
    let pieces = metadata_piece_count(size);
    for piece in 0..pieces {
        framed
            .feed(Message::Extended {
                id: their_id,
                payload: MetadataMessage::Request { piece }.encode(),
            })
            .await
            .map_err(PeerError::from)?;
    }
    framed.flush().await.map_err(PeerError::from)?;

    let mut buf = vec![0u8; size_usize];
    let mut got = vec![false; pieces as usize];
    let mut missing = pieces;
    while missing > 0 {
        let Message::Extended { id, payload } = next(&mut framed).await? else {
            continue;
        };
        if id != LOCAL_UT_METADATA_ID {
            continue;
        }
        match MetadataMessage::decode(&payload).map_err(PeerError::from)? {
            MetadataMessage::Data {
                piece,
                total_size,
                data,
            } => {
                let bad = |reason| MetadataError::BadPiece { piece, reason };
                if total_size != size {
                    return Err(bad("total size differs from the advertised one"));
                }
                if piece >= pieces {
                    return Err(bad("index beyond the metadata"));
                }
                if data.len() != metadata_piece_len(size, piece) {
                    return Err(bad("wrong length"));
                }
                let start = piece as usize * crate::wire::METADATA_PIECE_LEN;
                buf[start..start + data.len()].copy_from_slice(&data);
                if !std::mem::replace(&mut got[piece as usize], true) {
                    missing -= 1;
                }
            }
            MetadataMessage::Reject { piece } => return Err(MetadataError::Rejected(piece)),
            MetadataMessage::Request { piece } => {
                // We have nothing to serve yet.
                let reject = MetadataMessage::Reject { piece }.encode();
                send(
                    &mut framed,
                    Message::Extended {
                        id: their_id,
                        payload: reject,
                    },
                )
                .await?;
            }
        }
    }
    let digest: [u8; 20] = Sha1::digest(&buf).into();
    if InfoHash(digest) != setup.info_hash {
        return Err(MetadataError::HashMismatch);
    }
    Ok(Bytes::from(buf))
}

async fn send(
    framed: &mut Framed<crate::peer::PeerStream, PeerCodec>,
    msg: Message,
) -> Result<(), MetadataError> {
    framed
        .send(msg)
        .await
        .map_err(|e| PeerError::from(e).into())
}

async fn next(
    framed: &mut Framed<crate::peer::PeerStream, PeerCodec>,
) -> Result<Message, MetadataError> {
    match framed.next().await {
        Some(Ok(m)) => Ok(m),
        Some(Err(e)) => Err(PeerError::from(e).into()),
        None => Err(MetadataError::Closed),
    }
}
