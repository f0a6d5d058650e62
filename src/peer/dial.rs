//! Opening a connection: dialling a peer or answering one that dialled us,
//! and the BitTorrent handshake both ways, each step bounded in time. An
//! MSE handshake ([`super::mse`]) comes first when the encryption mode and
//! the peer call for one.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::mse::{self, Crypto, Encryption, EncryptionPolicy};
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
    /// Whether an MSE handshake opened it, and what it chose.
    pub crypto: Crypto,
}

/// What identifies us in a handshake.
#[derive(Debug, Clone)]
pub struct PeerSetup {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Our peer id.
    pub our_id: PeerId,
    /// The session's encryption mode and what it learnt of peers.
    pub encryption: EncryptionPolicy,
}

/// An incoming connection whose handshake was read.
#[derive(Debug)]
pub struct Incoming {
    /// What carries it (decrypting, after an MSE handshake).
    pub stream: PeerStream,
    /// The peer's BitTorrent handshake.
    pub handshake: Handshake,
    /// Whether an MSE handshake came first, and what it chose.
    pub crypto: Crypto,
}

async fn dial(addr: SocketAddr) -> Result<TcpStream, PeerError> {
    let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| PeerError::Timeout("the TCP connection"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Dials `addr` and exchanges handshakes: encrypted first unless the mode
/// is off or the address is known to refuse it; in `prefer` mode a failed
/// MSE handshake is followed by a plain dial, and the address remembered.
pub async fn connect(addr: SocketAddr, setup: PeerSetup) -> Result<Connected, PeerError> {
    let ours = Handshake::new(setup.info_hash, setup.our_id).encode();
    let policy = &setup.encryption;
    let (mut stream, crypto, fell_back) = if policy.dial_encrypted(addr) {
        let tcp = dial(addr).await?;
        let mse = timeout(
            HANDSHAKE_TIMEOUT,
            mse::initiate(tcp, setup.info_hash, policy.mode, &ours),
        )
        .await
        .unwrap_or(Err(mse::MseError::Protocol("timed out")));
        match mse {
            Ok((s, crypto)) => (PeerStream::boxed(s), crypto, false),
            Err(e) if policy.may_fall_back() => {
                tracing::debug!(%addr, "encrypted handshake failed, dialling plain: {e}");
                (connect_plain(addr, &ours).await?, Crypto::Plain, true)
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        (connect_plain(addr, &ours).await?, Crypto::Plain, false)
    };
    let handshake = read_handshake(&mut stream).await?;
    if fell_back {
        // Remembered only once plain worked: a peer that closed both
        // (busy, or not ready yet) is tried encrypted again next time.
        policy.remember_plain(addr);
    }
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
        crypto,
    })
}

async fn connect_plain(addr: SocketAddr, ours: &[u8]) -> Result<PeerStream, PeerError> {
    let mut stream = PeerStream::from(dial(addr).await?);
    stream.write_all(ours).await?;
    Ok(stream)
}

/// Reads the handshake of a peer that dialled us, plain or encrypted (MSE,
/// told apart by its first 20 bytes: a plain handshake starts with 19 and
/// "BitTorrent protocol"), as `mode` allows. `find` names our torrent
/// whose HASH('req2', info hash) it is given (see [`mse::req2`]), for
/// the MSE responder. The caller finds the torrent by the handshake's
/// info hash and then calls [`accept`].
pub async fn read_incoming(
    mut stream: PeerStream,
    mode: Encryption,
    find: &(dyn Fn(&[u8; 20]) -> Option<InfoHash> + Send + Sync),
) -> Result<Incoming, PeerError> {
    let mut first = [0u8; 20];
    timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut first))
        .await
        .map_err(|_| PeerError::Timeout("the handshake"))??;
    if &first == Handshake::PROTOCOL {
        if mode == Encryption::Require {
            return Err(PeerError::Protocol(
                "a plain handshake while encryption is required",
            ));
        }
        let mut buf = [0u8; Handshake::LEN];
        buf[..20].copy_from_slice(&first);
        timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut buf[20..]))
            .await
            .map_err(|_| PeerError::Timeout("the handshake"))??;
        return Ok(Incoming {
            stream,
            handshake: Handshake::decode(&buf)?,
            crypto: Crypto::Plain,
        });
    }
    let (mse, skey, crypto) = timeout(HANDSHAKE_TIMEOUT, mse::respond(stream, &first, mode, find))
        .await
        .map_err(|_| PeerError::Timeout("the encrypted handshake"))??;
    let mut stream = PeerStream::boxed(mse);
    let handshake = read_handshake(&mut stream).await?;
    if handshake.info_hash != skey {
        return Err(PeerError::WrongTorrent);
    }
    Ok(Incoming {
        stream,
        handshake,
        crypto,
    })
}

/// Answers an incoming peer whose handshake named our torrent.
pub async fn accept(
    incoming: Incoming,
    addr: SocketAddr,
    setup: PeerSetup,
) -> Result<Connected, PeerError> {
    let Incoming {
        mut stream,
        handshake,
        crypto,
    } = incoming;
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
        crypto,
    })
}

async fn read_handshake(stream: &mut PeerStream) -> Result<Handshake, PeerError> {
    let mut buf = [0u8; Handshake::LEN];
    timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut buf))
        .await
        .map_err(|_| PeerError::Timeout("the handshake"))??;
    Ok(Handshake::decode(&buf)?)
}
