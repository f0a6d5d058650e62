//! Serving the peer: its block requests (validated, queued, read from the
//! disk, held for the upload limit, sent), the allowed fast set we grant a
//! newcomer we choke (BEP 6), and its ut_metadata requests. Part of the
//! connection loop (`super`), split out along what the peer asks of us.

use bytes::Bytes;

use super::{Conn, MAX_READS, OUT_HIGH_WATER};
use crate::peer::fast::{allowed_fast_set, ALLOWED_FAST_SEND};
use crate::peer::upload::Pushed;
use crate::peer::PeerError;
use crate::storage::disk::DiskError;
use crate::types::BlockRef;
use crate::wire::{Message, MetadataMessage, WireError, METADATA_PIECE_LEN};

impl Conn {
    /// Takes a block read from the disk: staged for the upload limit, or
    /// dropped (rejected with the fast extension) if we choked the peer
    /// while it was read.
    pub(super) fn read_done(
        &mut self,
        block: BlockRef,
        data: Result<Bytes, DiskError>,
    ) -> Result<(), PeerError> {
        let data = data?;
        if self.am_choking && !self.allowed_out.contains(&block.piece) {
            if self.fast {
                self.send(Message::RejectRequest(block))?;
            }
            return Ok(());
        }
        self.uploads.stage(block, data);
        Ok(())
    }

    /// Queues for the socket the staged blocks the upload limit lets pass,
    /// while the socket keeps up.
    pub(super) fn send_staged(&mut self) -> Result<(), PeerError> {
        while self.out.len() < OUT_HIGH_WATER {
            let Some((block, data)) = self.uploads.next_to_send(&self.ctx.upload_limit) else {
                break;
            };
            self.ctx.shared.uploaded.add(data.len() as u64);
            self.flood.served();
            self.send(Message::Piece {
                piece: block.piece,
                offset: block.offset,
                data,
            })?;
        }
        Ok(())
    }

    /// Grants a peer whose first bitfield shows fewer pieces than the set
    /// its allowed fast set (BEP 6), and tells it the pieces of the set we
    /// have; a peer with pieces to trade earns its unchoke instead.
    pub(super) fn grant_allowed_fast(&mut self, peer_pieces: u32) -> Result<(), PeerError> {
        if !self.fast || std::mem::replace(&mut self.allowed_decided, true) {
            return Ok(());
        }
        if peer_pieces as usize >= ALLOWED_FAST_SEND {
            return Ok(());
        }
        let num = self.ctx.geometry.num_pieces();
        self.allowed_out = allowed_fast_set(
            self.ctx.shared.addr.ip(),
            &self.ctx.info_hash,
            num,
            ALLOWED_FAST_SEND,
        );
        for i in 0..self.allowed_out.len() {
            let p = self.allowed_out[i];
            if self.have.get(p) {
                self.send(Message::AllowedFast(p))?;
            }
        }
        Ok(())
    }

    /// Answers a ut_metadata request from our copy of the info dictionary,
    /// or rejects it when we have none, the piece is out of range, or the
    /// peer is not reading what we already queued. We never ask for
    /// metadata on this connection, so data (or a malformed message) is a
    /// protocol error; rejects and message types BEP 9 may add later are
    /// ignored.
    pub(super) fn on_metadata_message(&mut self, payload: &Bytes) -> Result<(), PeerError> {
        let piece = match MetadataMessage::decode(payload) {
            Ok(MetadataMessage::Request { piece }) => piece,
            Ok(MetadataMessage::Reject { .. }) | Err(WireError::MetadataUnknownType(_)) => {
                return Ok(())
            }
            Ok(MetadataMessage::Data { .. }) => {
                return Err(PeerError::Protocol("ut_metadata data we did not ask for"))
            }
            Err(e) => return Err(e.into()),
        };
        let Some(their_id) = self.their_metadata_id else {
            return Ok(());
        };
        let reply = match &self.ctx.metadata {
            Some(meta) if self.out.len() < OUT_HIGH_WATER => {
                let start = piece as usize * METADATA_PIECE_LEN;
                if start < meta.len() {
                    let end = (start + METADATA_PIECE_LEN).min(meta.len());
                    MetadataMessage::Data {
                        piece,
                        total_size: meta.len() as u64,
                        data: meta.slice(start..end),
                    }
                } else {
                    MetadataMessage::Reject { piece }
                }
            }
            _ => MetadataMessage::Reject { piece },
        };
        self.send(Message::Extended {
            id: their_id,
            payload: reply.encode(),
        })
    }

    /// Validates and queues a request from the peer.
    pub(super) fn on_request(&mut self, b: BlockRef) -> Result<(), PeerError> {
        self.flood.request();
        let allowed =
            self.have.get(b.piece) && (!self.am_choking || self.allowed_out.contains(&b.piece));
        if allowed {
            match self.uploads.push(b) {
                Pushed::New => return Ok(()),
                Pushed::Duplicate => return self.flood.refused(),
                Pushed::Full => {}
            }
        }
        self.flood.refused()?;
        if self.fast {
            self.send(Message::RejectRequest(b))?;
            Ok(())
        } else if self.am_choking {
            // Requests racing our choke are normal without BEP 6; drop them.
            Ok(())
        } else {
            Err(PeerError::Protocol(
                "request for a piece we do not have, or over our reqq",
            ))
        }
    }

    /// Starts disk reads for queued requests while the socket keeps up.
    pub(super) fn start_reads(&mut self) {
        while self.reads.len() + self.uploads.staged() < MAX_READS
            && self.out.len() < OUT_HIGH_WATER
        {
            let Some(block) = self.uploads.pop() else {
                break;
            };
            let disk = self.ctx.disk.clone();
            self.reads.push_back(Box::pin(async move {
                let r = disk.read_block(block).await;
                (block, r)
            }));
        }
    }
}
