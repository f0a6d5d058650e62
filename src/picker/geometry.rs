//! Piece and block arithmetic for the picker.

use crate::types::{BlockRef, PieceIndex, BLOCK_LEN};

/// Piece and block arithmetic of one torrent.
#[derive(Clone, Copy)]
pub(super) struct Geometry {
    /// Number of pieces.
    pub(super) num_pieces: u32,
    /// Nominal piece length (the last piece may be shorter).
    pub(super) piece_length: u32,
    /// Torrent length in bytes.
    pub(super) total_length: u64,
}

impl Geometry {
    pub(super) fn piece_len(&self, i: u32) -> u32 {
        let start = i as u64 * self.piece_length as u64;
        self.total_length
            .saturating_sub(start)
            .min(self.piece_length as u64) as u32
    }

    pub(super) fn num_blocks(&self, i: u32) -> u32 {
        self.piece_len(i).div_ceil(BLOCK_LEN)
    }

    pub(super) fn block(&self, i: u32, b: u32) -> BlockRef {
        let offset = b * BLOCK_LEN;
        BlockRef {
            piece: PieceIndex(i),
            offset,
            len: (self.piece_len(i) - offset).min(BLOCK_LEN),
        }
    }
}
