//! File priorities to piece priorities.

use super::Priority;
use crate::storage::Layout;

/// Piece priorities from file priorities: a piece is as wanted as the most
/// wanted file it touches (so a piece shared by a skipped and a wanted file
/// is wanted). Pad files and empty files do not count. A list of the wrong
/// length is cut or padded with Normal.
pub fn piece_priorities(layout: &Layout, file_priorities: &[Priority]) -> Vec<Priority> {
    let mut out = vec![Priority::Skip; layout.num_pieces() as usize];
    for (f, file) in layout.files.iter().enumerate() {
        if file.pad {
            continue;
        }
        let prio = file_priorities.get(f).copied().unwrap_or_default();
        if let Some((first, last)) = layout.file_pieces(f) {
            for p in &mut out[first.as_usize()..=last.as_usize()] {
                *p = (*p).max(prio);
            }
        }
    }
    out
}
