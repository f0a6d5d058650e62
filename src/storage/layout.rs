//! The mapping between a torrent's byte stream and its files: which spans of
//! which files hold a given piece or block. Pure arithmetic, no I/O.
//!
//! **Architecture invariant:** every path produced here is the save folder
//! joined with a `FileEntry::path` that the metainfo layer already sanitised,
//! so nothing in the layout can point outside the save folder.

use std::path::{Path, PathBuf};

use crate::metainfo::{FileEntry, Info};
use crate::types::PieceIndex;

/// A run of bytes inside one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpan {
    /// Index into `Layout::files`.
    pub file: usize,
    /// Offset inside that file.
    pub file_offset: u64,
    /// Number of bytes.
    pub len: u64,
}

/// The files of a torrent with their offsets in the torrent's byte stream.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Files in torrent order, with `offset` set.
    pub files: Vec<FileEntry>,
    /// Piece length in bytes.
    pub piece_length: u64,
    /// Total length of the torrent in bytes.
    pub total_length: u64,
}

impl Layout {
    /// The layout of a validated info dictionary.
    pub fn new(info: &Info) -> Self {
        Layout {
            files: info.files.clone(),
            piece_length: info.piece_length,
            total_length: info.total_length(),
        }
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.total_length.div_ceil(self.piece_length) as u32
    }

    /// Byte range `(start, len)` of a piece in the torrent's byte stream.
    pub fn piece_range(&self, piece: PieceIndex) -> (u64, u64) {
        let start = piece.0 as u64 * self.piece_length;
        let len = self
            .piece_length
            .min(self.total_length.saturating_sub(start));
        (start, len)
    }

    /// Length of one piece.
    pub fn piece_len(&self, piece: PieceIndex) -> u32 {
        self.piece_range(piece).1 as u32
    }

    /// The file spans that hold `len` bytes starting at `offset` of the
    /// torrent's byte stream, in order. Zero-length files are skipped.
    pub fn spans(&self, offset: u64, len: u64) -> impl Iterator<Item = FileSpan> + '_ {
        let end = (offset + len).min(self.total_length);
        // First file whose end lies beyond `offset`.
        let first = self
            .files
            .partition_point(|f| f.offset + f.length <= offset);
        self.files[first..]
            .iter()
            .enumerate()
            .take_while(move |(_, f)| f.offset < end)
            .filter(|(_, f)| f.length > 0)
            .map(move |(i, f)| {
                let s = offset.max(f.offset);
                let e = end.min(f.offset + f.length);
                FileSpan {
                    file: first + i,
                    file_offset: s - f.offset,
                    len: e - s,
                }
            })
    }

    /// The spans of one piece.
    pub fn piece_spans(&self, piece: PieceIndex) -> impl Iterator<Item = FileSpan> + '_ {
        let (start, len) = self.piece_range(piece);
        self.spans(start, len)
    }

    /// The range of pieces `[first, last]` that touch a file; `None` for an
    /// empty file.
    pub fn file_pieces(&self, file: usize) -> Option<(PieceIndex, PieceIndex)> {
        let f = &self.files[file];
        if f.length == 0 {
            return None;
        }
        let first = f.offset / self.piece_length;
        let last = (f.offset + f.length - 1) / self.piece_length;
        Some((PieceIndex(first as u32), PieceIndex(last as u32)))
    }

    /// The full path of a file under the save folder.
    pub fn path(&self, save_dir: &Path, file: usize) -> PathBuf {
        save_dir.join(&self.files[file].path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(lengths: &[u64], piece_length: u64) -> Layout {
        let mut offset = 0;
        let files = lengths
            .iter()
            .enumerate()
            .map(|(i, &length)| {
                let f = FileEntry {
                    path: PathBuf::from(format!("t/{i}")),
                    length,
                    offset,
                    pad: false,
                    attr: String::new(),
                };
                offset += length;
                f
            })
            .collect();
        Layout {
            files,
            piece_length,
            total_length: offset,
        }
    }

    #[test]
    fn piece_across_file_boundaries() {
        let l = layout(&[10, 0, 5, 20], 16);
        assert_eq!(l.num_pieces(), 3);
        let spans: Vec<_> = l.piece_spans(PieceIndex(0)).collect();
        assert_eq!(
            spans,
            vec![
                FileSpan {
                    file: 0,
                    file_offset: 0,
                    len: 10
                },
                FileSpan {
                    file: 2,
                    file_offset: 0,
                    len: 5
                },
                FileSpan {
                    file: 3,
                    file_offset: 0,
                    len: 1
                },
            ]
        );
        let last: Vec<_> = l.piece_spans(PieceIndex(2)).collect();
        assert_eq!(
            last,
            vec![FileSpan {
                file: 3,
                file_offset: 17,
                len: 3
            }]
        );
        assert_eq!(l.piece_len(PieceIndex(2)), 3);
    }

    #[test]
    fn file_pieces() {
        let l = layout(&[10, 0, 5, 20], 16);
        assert_eq!(l.file_pieces(0), Some((PieceIndex(0), PieceIndex(0))));
        assert_eq!(l.file_pieces(1), None);
        assert_eq!(l.file_pieces(3), Some((PieceIndex(0), PieceIndex(2))));
    }

    #[test]
    fn spans_cover_every_byte_once() {
        let l = layout(&[3, 7, 1, 0, 12, 9], 4);
        let mut seen = vec![0u32; l.total_length as usize];
        for p in 0..l.num_pieces() {
            for s in l.piece_spans(PieceIndex(p)) {
                let base = l.files[s.file].offset + s.file_offset;
                for b in base..base + s.len {
                    seen[b as usize] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
    }
}
