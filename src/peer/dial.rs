//! Opening a connection: dialling a peer or answering one that dialled us,
//! and the BitTorrent handshake both ways, each step bounded in time.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::stream::PeerStream;
use super::PeerError;
use crate::types::{InfoHash, PeerId};
use crate::wire::Handshake;

/// Time to open a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for the peer to send its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// An open connection whose handshakes are done both ways.
#[derive(Debug)]
pub struct Connected {
    /// What carries the connection.
    pub stream: PeerStream,
    /// The peer's address.
    pub addr: SocketAddr,
    /// The peer's handshake.
    pub handshake: Handshake,
    /// Whether the peer dialled us.
    pub incoming: bool,
}

/// What identifies us in a handshake.
#[derive(Debug, Clone, Copy)]
pub struct PeerSetup {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Our peer id.
    pub our_id: PeerId,
}

/// Dials `addr` and exchanges handshakes.
pub async fn connect(addr: SocketAddr, setup: PeerSetup) -> Result<Connected, PeerError> {
    let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| PeerError::Timeout("the TCP connection"))??;
    stream.set_nodelay(true)?;
    let mut stream = PeerStream::from(stream);
    stream
        .write_all(&Handshake::new(setup.info_hash, setup.our_id).encode())
        .await?;
    let handshake = read_handshake(&mut stream).await?;
    if handshake.info_hash != setup.info_hash {
        return Err(PeerError::WrongTorrent);
    }
    if handshake.peer_id == setup.our_id {
        return Err(PeerError::SelfConnection);
    }
    Ok(Connected {
        stream,
        addr,
        handshake,
        incoming: false,
    })
}

/// Reads the handshake of a peer that dialled us; the caller finds the
/// torrent by its info hash and then calls [`accept`].
pub async fn read_incoming(stream: &mut PeerStream) -> Result<Handshake, PeerError> {
    read_handshake(stream).await
}

/// Answers an incoming peer whose handshake named our torrent.
pub async fn accept(
    mut stream: PeerStream,
    addr: SocketAddr,
    handshake: Handshake,
    setup: PeerSetup,
) -> Result<Connected, PeerError> {
    stream
        .write_all(&Handshake::new(setup.info_hash, setup.our_id).encode())
        .await?;
    if handshake.peer_id == setup.our_id {
        // Answered first, so that our dialling side reads its own id and
        // forgets the address, instead of taking the close for a refusal.
        return Err(PeerError::SelfConnection);
    }
    Ok(Connected {
        stream,
        addr,
        handshake,
        incoming: true,
    })
}

async fn read_handshake(stream: &mut PeerStream) -> Result<Handshake, PeerError> {
    let mut buf = [0u8; Handshake::LEN];
    timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut buf))
        .await
        .map_err(|_| PeerError::Timeout("the handshake"))??;
    Ok(Handshake::decode(&buf)?)
}
