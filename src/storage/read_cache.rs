//! A small LRU of recently read windows of pieces, per disk worker: peers
//! ask for consecutive blocks, so one positional read of a window serves the
//! next requests from memory (each block a zero-copy slice of it).

use std::collections::VecDeque;

use bytes::Bytes;

/// Recently read windows, least recently used first.
pub(super) struct ReadCache {
    /// (piece, window index, bytes).
    windows: VecDeque<(u32, u32, Bytes)>,
    /// Bytes held.
    bytes: usize,
    /// Most bytes held; 0 turns the cache off.
    cap: usize,
}

impl ReadCache {
    pub(super) fn new(cap: usize) -> Self {
        ReadCache {
            windows: VecDeque::new(),
            bytes: 0,
            cap,
        }
    }

    /// Whether the cache holds anything at all.
    pub(super) fn enabled(&self) -> bool {
        self.cap > 0
    }

    /// The window `w` of `piece`, if cached (it becomes most recent).
    pub(super) fn get(&mut self, piece: u32, w: u32) -> Option<Bytes> {
        let i = self
            .windows
            .iter()
            .rposition(|(p, x, _)| *p == piece && *x == w)?;
        let entry = self.windows.remove(i)?;
        let bytes = entry.2.clone();
        self.windows.push_back(entry);
        Some(bytes)
    }

    /// Caches window `w` of `piece`, evicting the oldest as needed.
    pub(super) fn insert(&mut self, piece: u32, w: u32, bytes: Bytes) {
        if bytes.len() > self.cap {
            return;
        }
        while self.bytes + bytes.len() > self.cap {
            match self.windows.pop_front() {
                Some((_, _, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
        self.bytes += bytes.len();
        self.windows.push_back((piece, w, bytes));
    }

    /// Forgets every window of `piece` (it is being written).
    pub(super) fn invalidate(&mut self, piece: u32) {
        if self.windows.is_empty() {
            return;
        }
        let mut freed = 0;
        self.windows.retain(|(p, _, b)| {
            let keep = *p != piece;
            if !keep {
                freed += b.len();
            }
            keep
        });
        self.bytes -= freed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut c = ReadCache::new(30);
        c.insert(1, 0, Bytes::from(vec![1; 10]));
        c.insert(2, 0, Bytes::from(vec![2; 10]));
        c.insert(3, 0, Bytes::from(vec![3; 10]));
        assert!(c.get(1, 0).is_some());
        c.insert(4, 0, Bytes::from(vec![4; 10]));
        assert!(c.get(2, 0).is_none(), "oldest unused went first");
        assert!(c.get(1, 0).is_some());
        c.invalidate(1);
        assert!(c.get(1, 0).is_none());
        c.insert(5, 0, Bytes::from(vec![5; 40]));
        assert!(c.get(5, 0).is_none(), "larger than the cache");
    }
}
