//! The 68-byte BitTorrent handshake (BEP 3) and the reserved bits that
//! announce the extensions we speak: the extension protocol (BEP 10), the
//! fast extension (BEP 6) and the DHT (BEP 5).
//!
//! Layout: `\x13BitTorrent protocol`, 8 reserved bytes, the 20-byte info
//! hash, the 20-byte peer id.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::WireError;
use crate::types::{InfoHash, PeerId};

/// The protocol string, preceded by its length byte (19).
const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";

/// Reserved byte and mask of the extension protocol (BEP 10).
const EXTENSION_BIT: (usize, u8) = (5, 0x10);
/// Reserved byte and mask of the fast extension (BEP 6).
const FAST_BIT: (usize, u8) = (7, 0x04);
/// Reserved byte and mask of the DHT (BEP 5).
const DHT_BIT: (usize, u8) = (7, 0x01);

/// A handshake, ours or a peer's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Handshake {
    /// Feature bits; what the sender supports (see the `supports_*` methods).
    pub reserved: [u8; 8],
    /// The torrent the connection is for.
    pub info_hash: InfoHash,
    /// The sender's peer id: who it is and, by BEP 20, which client.
    pub peer_id: PeerId,
}

impl Handshake {
    /// Length of a handshake on the wire.
    pub const LEN: usize = 68;
    /// Its first 20 bytes: the length 19 and "BitTorrent protocol".
    pub const PROTOCOL: &'static [u8; 20] = PROTOCOL;

    /// Our handshake: extension protocol, fast extension and DHT bits set.
    ///
    /// The DHT bit only promises a `Port` message; for a private torrent
    /// (BEP 27) clear it with [`Handshake::without_dht`].
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> Self {
        let mut reserved = [0u8; 8];
        for (byte, mask) in [EXTENSION_BIT, FAST_BIT, DHT_BIT] {
            reserved[byte] |= mask;
        }
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    /// The same handshake without the DHT bit (private torrents).
    pub fn without_dht(mut self) -> Self {
        self.reserved[DHT_BIT.0] &= !DHT_BIT.1;
        self
    }

    /// The 68 bytes to send.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved);
        out[28..48].copy_from_slice(&self.info_hash.0);
        out[48..68].copy_from_slice(&self.peer_id.0);
        out
    }

    /// Reads a handshake from the first 68 bytes of `buf` (extra bytes are
    /// ignored: they are the first messages).
    pub fn decode(buf: &[u8]) -> Result<Handshake, WireError> {
        if buf.len() < Self::LEN {
            // A short buffer that already disagrees on the protocol string is
            // a wrong protocol, not merely a short read.
            let n = buf.len().min(PROTOCOL.len());
            if buf[..n] != PROTOCOL[..n] {
                return Err(WireError::BadProtocol);
            }
            return Err(WireError::HandshakeTruncated { got: buf.len() });
        }
        if buf[..20] != PROTOCOL[..] {
            return Err(WireError::BadProtocol);
        }
        let mut hs = Handshake {
            reserved: [0; 8],
            info_hash: InfoHash([0; 20]),
            peer_id: PeerId([0; 20]),
        };
        hs.reserved.copy_from_slice(&buf[20..28]);
        hs.info_hash.0.copy_from_slice(&buf[28..48]);
        hs.peer_id.0.copy_from_slice(&buf[48..68]);
        Ok(hs)
    }

    /// Whether the sender speaks the extension protocol (BEP 10).
    pub fn supports_extensions(&self) -> bool {
        self.reserved[EXTENSION_BIT.0] & EXTENSION_BIT.1 != 0
    }

    /// Whether the sender speaks the fast extension (BEP 6). The fast
    /// messages are only legal when both sides set this bit.
    pub fn supports_fast(&self) -> bool {
        self.reserved[FAST_BIT.0] & FAST_BIT.1 != 0
    }

    /// Whether the sender runs a DHT node (BEP 5) and may send `Port`.
    pub fn supports_dht(&self) -> bool {
        self.reserved[DHT_BIT.0] & DHT_BIT.1 != 0
    }
}

/// Reads exactly one handshake (68 bytes) from `reader`.
///
/// The protocol string is checked as soon as its 20 bytes are in, so a
/// stranger speaking another protocol is refused without waiting for the
/// rest. The caller bounds the wait (DESIGN.md: 10 s).
pub async fn read_handshake<R>(reader: &mut R) -> Result<Handshake, WireError>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let mut buf = [0u8; Handshake::LEN];
    reader.read_exact(&mut buf[..20]).await?;
    if buf[..20] != PROTOCOL[..] {
        return Err(WireError::BadProtocol);
    }
    reader.read_exact(&mut buf[20..]).await?;
    Handshake::decode(&buf)
}

/// Writes `handshake` to `writer` and flushes it.
pub async fn write_handshake<W>(writer: &mut W, handshake: &Handshake) -> Result<(), WireError>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    writer.write_all(&handshake.encode()).await?;
    writer.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handshake {
        Handshake::new(InfoHash([0xAB; 20]), PeerId(*b"-SH0100-abcdefghijkl"))
    }

    #[test]
    fn encodes_to_the_exact_bytes() {
        let bytes = sample().encode();
        let mut expected = Vec::new();
        expected.extend_from_slice(b"\x13BitTorrent protocol");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
        expected.extend_from_slice(&[0xAB; 20]);
        expected.extend_from_slice(b"-SH0100-abcdefghijkl");
        assert_eq!(&bytes[..], &expected[..]);
        assert_eq!(Handshake::decode(&expected).unwrap(), sample());
    }

    #[test]
    fn reserved_bits_are_read() {
        let hs = sample();
        assert!(hs.supports_extensions() && hs.supports_fast() && hs.supports_dht());
        let private = hs.without_dht();
        assert!(!private.supports_dht() && private.supports_fast());
        let mut bytes = hs.encode();
        bytes[20..28].copy_from_slice(&[0; 8]);
        let plain = Handshake::decode(&bytes).unwrap();
        assert!(!plain.supports_extensions() && !plain.supports_fast() && !plain.supports_dht());
    }

    #[test]
    fn wrong_protocol_and_short_input_are_refused() {
        let mut bytes = sample().encode();
        bytes[1] = b'b';
        assert!(matches!(
            Handshake::decode(&bytes),
            Err(WireError::BadProtocol)
        ));
        assert!(matches!(
            Handshake::decode(b"GET / HTTP/1.1\r\n"),
            Err(WireError::BadProtocol)
        ));
        assert!(matches!(
            Handshake::decode(&sample().encode()[..40]),
            Err(WireError::HandshakeTruncated { got: 40 })
        ));
        assert!(matches!(
            Handshake::decode(&[]),
            Err(WireError::HandshakeTruncated { got: 0 })
        ));
        let mut wrong_len = sample().encode();
        wrong_len[0] = 20;
        assert!(matches!(
            Handshake::decode(&wrong_len),
            Err(WireError::BadProtocol)
        ));
    }

    #[tokio::test]
    async fn reads_and_writes_over_a_stream() {
        let (mut a, mut b) = tokio::io::duplex(256);
        write_handshake(&mut a, &sample()).await.unwrap();
        // A first message right behind the handshake stays in the stream.
        tokio::io::AsyncWriteExt::write_all(&mut a, &[0, 0, 0, 0])
            .await
            .unwrap();
        assert_eq!(read_handshake(&mut b).await.unwrap(), sample());
        let mut rest = [0u8; 4];
        b.read_exact(&mut rest).await.unwrap();
        assert_eq!(rest, [0, 0, 0, 0]);
    }

    #[tokio::test]
    async fn stream_errors_are_reported() {
        let (mut a, mut b) = tokio::io::duplex(256);
        a.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .unwrap();
        assert!(matches!(
            read_handshake(&mut b).await,
            Err(WireError::BadProtocol)
        ));

        let (mut a, mut b) = tokio::io::duplex(256);
        a.write_all(&sample().encode()[..30]).await.unwrap();
        drop(a);
        assert!(matches!(
            read_handshake(&mut b).await,
            Err(WireError::Io(_))
        ));
    }
}
