//! The stream after an MSE handshake: bytes the handshake read ahead are
//! served first, then the transport, each direction through its RC4 state
//! when the peers chose full-stream encryption (none after a header-only
//! handshake).
//!
//! Writing encrypts into an owned buffer that is written out before any
//! new bytes are taken: the keystream moves once per byte accepted, so a
//! partial write of the transport never makes a byte encrypted twice.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rc4::StreamCipher;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::handshake::Cipher;

/// Most plaintext bytes one write takes in (encrypted into the write
/// buffer): the buffer never grows past it.
const MAX_WRITE_CHUNK: usize = 64 * 1024;

/// A transport carrying an MSE connection.
pub struct MseStream<S> {
    /// The transport (a TCP socket, or any peer stream).
    io: S,
    /// Plaintext the handshake read past its end (the initial payload and
    /// what followed it in the same reads), served before the transport.
    prefix: Vec<u8>,
    /// How much of `prefix` was served.
    prefix_pos: usize,
    /// Decrypts what the peer sends; `None` after a header-only handshake.
    read_cipher: Option<Cipher>,
    /// Encrypts what we send; `None` after a header-only handshake.
    write_cipher: Option<Cipher>,
    /// Ciphertext accepted from the caller and not yet written, so that a
    /// partial write never costs keystream twice.
    pending: Vec<u8>,
    /// How much of `pending` was written.
    pending_pos: usize,
}

impl<S> MseStream<S> {
    pub(super) fn new(
        io: S,
        prefix: Vec<u8>,
        read_cipher: Option<Cipher>,
        write_cipher: Option<Cipher>,
    ) -> Self {
        MseStream {
            io,
            prefix,
            prefix_pos: 0,
            read_cipher,
            write_cipher,
            pending: Vec::new(),
            pending_pos: 0,
        }
    }

    /// Whether the payload is encrypted (full stream RC4).
    pub fn is_rc4(&self) -> bool {
        self.write_cipher.is_some()
    }
}

impl<S: AsyncWrite + Unpin> MseStream<S> {
    /// Writes out what earlier calls encrypted.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pending_pos < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.io).poll_write(cx, &self.pending[self.pending_pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending_pos += n;
        }
        self.pending.clear();
        self.pending_pos = 0;
        Poll::Ready(Ok(()))
    }

    /// Takes `bufs` (up to `MAX_WRITE_CHUNK` bytes) into the write buffer,
    /// encrypted, and tries to write them at once. Returns how many bytes
    /// were taken: all of them count as written from now on.
    fn take(&mut self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let Some(cipher) = self.write_cipher.as_mut() else {
            return Ok(0);
        };
        for b in bufs {
            let room = MAX_WRITE_CHUNK - self.pending.len();
            if room == 0 {
                break;
            }
            self.pending.extend_from_slice(&b[..b.len().min(room)]);
        }
        let taken = self.pending.len();
        cipher.apply_keystream(&mut self.pending);
        // Started now; whatever is left waits for the next call.
        match self.poll_drain(cx) {
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Ready(Ok(())) | Poll::Pending => {}
        }
        Ok(taken)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for MseStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix_pos < this.prefix.len() {
            let n = buf.remaining().min(this.prefix.len() - this.prefix_pos);
            buf.put_slice(&this.prefix[this.prefix_pos..this.prefix_pos + n]);
            this.prefix_pos += n;
            if this.prefix_pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.prefix_pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if let Some(c) = this.read_cipher.as_mut() {
            c.apply_keystream(&mut buf.filled_mut()[before..]);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for MseStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if this.write_cipher.is_none() {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        }
        Poll::Ready(this.take(cx, &[io::IoSlice::new(buf)]))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if this.write_cipher.is_none() {
            return Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        }
        Poll::Ready(this.take(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        // Encrypted: every slice is copied into one buffer anyway.
        self.write_cipher.is_some() || self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
