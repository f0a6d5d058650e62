//! The queue of blocks a peer asked us for: bounded by the `reqq` we
//! advertise, emptied by our choke, trimmed by the peer's cancels.

use std::collections::VecDeque;

use crate::types::BlockRef;

/// The queue limit we advertise as `reqq` and enforce: libtorrent's default.
pub const OUR_REQQ: usize = 2000;

/// Requests from the peer waiting for a disk read.
#[derive(Debug, Default)]
pub struct UploadQueue {
    /// Oldest first; served in order.
    queue: VecDeque<BlockRef>,
}

impl UploadQueue {
    /// Queues a request; `false` when the queue is full (a protocol error by
    /// the peer, answered with a reject).
    pub fn push(&mut self, block: BlockRef) -> bool {
        if self.queue.len() >= OUR_REQQ {
            return false;
        }
        if !self.queue.contains(&block) {
            self.queue.push_back(block);
        }
        true
    }

    /// The next request to serve.
    pub fn pop(&mut self) -> Option<BlockRef> {
        self.queue.pop_front()
    }

    /// Drops a cancelled request; whether it was queued.
    pub fn cancel(&mut self, block: BlockRef) -> bool {
        match self.queue.iter().position(|b| *b == block) {
            Some(i) => {
                self.queue.remove(i);
                true
            }
            None => false,
        }
    }

    /// Drops every request (we choked the peer).
    pub fn clear(&mut self) -> Vec<BlockRef> {
        self.queue.drain(..).collect()
    }

    /// Requests waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no request waits.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{PieceIndex, BLOCK_LEN};

    fn b(i: u32) -> BlockRef {
        BlockRef {
            piece: PieceIndex(i),
            offset: 0,
            len: BLOCK_LEN,
        }
    }

    #[test]
    fn bounded_fifo_with_cancel() {
        let mut q = UploadQueue::default();
        for i in 0..OUR_REQQ as u32 {
            assert!(q.push(b(i)));
        }
        assert!(!q.push(b(99_999)), "beyond reqq");
        assert!(q.cancel(b(1)));
        assert!(!q.cancel(b(1)));
        assert_eq!(q.pop(), Some(b(0)));
        assert_eq!(q.pop(), Some(b(2)));
        assert_eq!(q.clear().len(), OUR_REQQ - 3);
        assert!(q.is_empty());
    }

    #[test]
    fn duplicate_request_is_served_once() {
        let mut q = UploadQueue::default();
        q.push(b(1));
        q.push(b(1));
        assert_eq!(q.len(), 1);
    }
}
