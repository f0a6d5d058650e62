//! The byte stream under a peer connection. Most connections are plain TCP
//! sockets, kept as they are so that reading and writing go straight to
//! the socket's halves; any other transport (an encrypted stream, a uTP
//! socket) is boxed behind the same type, so the handshake, the metadata
//! exchange and the connection task see one stream whatever carries it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// A transport other than plain TCP.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// What carries a peer connection.
pub enum PeerStream {
    /// A plain TCP socket.
    Tcp(TcpStream),
    /// Any other transport.
    Boxed(Box<dyn Transport>),
}

impl std::fmt::Debug for PeerStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerStream::Tcp(s) => f.debug_tuple("Tcp").field(s).finish(),
            PeerStream::Boxed(_) => f.write_str("Boxed"),
        }
    }
}

impl From<TcpStream> for PeerStream {
    fn from(s: TcpStream) -> Self {
        PeerStream::Tcp(s)
    }
}

impl PeerStream {
    /// Wraps a transport other than a plain TCP socket.
    pub fn boxed(t: impl Transport) -> Self {
        PeerStream::Boxed(Box::new(t))
    }

    /// Splits the stream into halves that the connection task reads and
    /// writes independently. A TCP socket splits without a lock.
    pub fn into_split(self) -> (PeerReader, PeerWriter) {
        match self {
            PeerStream::Tcp(s) => {
                let (r, w) = s.into_split();
                (PeerReader::Tcp(r), PeerWriter::Tcp(w))
            }
            PeerStream::Boxed(b) => {
                let (r, w) = tokio::io::split(b);
                (PeerReader::Boxed(r), PeerWriter::Boxed(w))
            }
        }
    }
}

/// The read half of a [`PeerStream`].
pub enum PeerReader {
    /// Of a TCP socket.
    Tcp(OwnedReadHalf),
    /// Of another transport.
    Boxed(tokio::io::ReadHalf<Box<dyn Transport>>),
}

/// The write half of a [`PeerStream`].
pub enum PeerWriter {
    /// Of a TCP socket.
    Tcp(OwnedWriteHalf),
    /// Of another transport.
    Boxed(tokio::io::WriteHalf<Box<dyn Transport>>),
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            PeerStream::Boxed(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            PeerStream::Boxed(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            PeerStream::Boxed(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            PeerStream::Boxed(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for PeerReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerReader::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            PeerReader::Boxed(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PeerWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerWriter::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            PeerWriter::Boxed(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerWriter::Tcp(s) => Pin::new(s).poll_flush(cx),
            PeerWriter::Boxed(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerWriter::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            PeerWriter::Boxed(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_boxed_transport_reads_and_writes_through_its_halves() {
        let (a, b) = tokio::io::duplex(64);
        let (mut r, mut w) = PeerStream::boxed(a).into_split();
        let mut other = PeerStream::boxed(b);
        w.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        other.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        other.write_all(b"pong").await.unwrap();
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
    }
}
