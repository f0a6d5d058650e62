//! The queue of blocks a peer asked us for: bounded by the `reqq` we
//! advertise, emptied by our choke, trimmed by the peer's cancels. Blocks
//! read from the disk wait here for the upload limit's tokens, one ticket
//! at a time (the head's), so a connection never holds more than one
//! block's worth of reservation it may not use.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::limit::{ChainTicket, LimitChain};
use crate::types::BlockRef;

/// The queue limit we advertise as `reqq` and enforce: libtorrent's default.
pub const OUR_REQQ: usize = 2000;

/// What became of a request pushed on the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued.
    New,
    /// The same block was queued already: nothing changed.
    Duplicate,
    /// The queue holds `OUR_REQQ` requests: refused.
    Full,
}

/// Requests from the peer waiting for a disk read, and blocks read waiting
/// for the upload limit.
#[derive(Debug, Default)]
pub struct UploadQueue {
    /// Oldest first; served in order.
    queue: VecDeque<BlockRef>,
    /// Blocks read from the disk and not yet sent, oldest first: the rate
    /// limit holds them here, where a choke or cancel can still drop them.
    staged: VecDeque<(BlockRef, Bytes)>,
    /// The upload limit's tokens taken for the first staged block, while
    /// they are not yet paid for.
    ticket: Option<ChainTicket>,
}

impl UploadQueue {
    /// Queues a request, unless it is queued already or the queue is full
    /// (a protocol error by the peer, answered with a reject).
    pub fn push(&mut self, block: BlockRef) -> Pushed {
        if self.queue.len() >= OUR_REQQ {
            return Pushed::Full;
        }
        if self.queue.contains(&block) {
            return Pushed::Duplicate;
        }
        self.queue.push_back(block);
        Pushed::New
    }

    /// The next request to serve.
    pub fn pop(&mut self) -> Option<BlockRef> {
        self.queue.pop_front()
    }

    /// Drops a cancelled request; whether it was queued or staged.
    pub fn cancel(&mut self, block: BlockRef) -> bool {
        if let Some(i) = self.queue.iter().position(|b| *b == block) {
            self.queue.remove(i);
            return true;
        }
        match self.staged.iter().position(|(b, _)| *b == block) {
            Some(i) => {
                if i == 0 {
                    self.refund();
                }
                self.staged.remove(i);
                true
            }
            None => false,
        }
    }

    /// Drops every request and staged block.
    #[cfg(test)]
    pub fn clear(&mut self) -> Vec<BlockRef> {
        self.clear_except(|_| false)
    }

    /// Drops every request and staged block but those `keep` names (we
    /// choked the peer; the pieces of its allowed fast set stay).
    pub fn clear_except(&mut self, keep: impl Fn(&BlockRef) -> bool) -> Vec<BlockRef> {
        let mut dropped = Vec::new();
        if self.staged.front().is_some_and(|(b, _)| !keep(b)) {
            self.refund();
        }
        self.staged.retain(|(b, _)| {
            let k = keep(b);
            if !k {
                dropped.push(*b);
            }
            k
        });
        self.queue.retain(|b| {
            let k = keep(b);
            if !k {
                dropped.push(*b);
            }
            k
        });
        dropped
    }

    /// Holds a block read from the disk until the limit lets it pass.
    pub fn stage(&mut self, block: BlockRef, data: Bytes) {
        self.staged.push_back((block, data));
    }

    /// Blocks read and not yet sent.
    pub fn staged(&self) -> usize {
        self.staged.len()
    }

    /// The next block the upload limit lets pass now, taking its tokens;
    /// `None` when nothing is staged or the tokens are owed (then
    /// [`UploadQueue::tokens`] waits for them).
    pub fn next_to_send(&mut self, limit: &LimitChain) -> Option<(BlockRef, Bytes)> {
        let (block, _) = self.staged.front()?;
        let ticket = self.ticket.get_or_insert_with(|| limit.reserve(block.len));
        if !ticket.is_ready() {
            return None;
        }
        self.ticket = None;
        self.staged.pop_front()
    }

    /// Waits until the first staged block's tokens are paid for; never
    /// returns while none are owed. Cancel-safe.
    pub async fn tokens(&mut self) {
        match &mut self.ticket {
            Some(t) => t.wait().await,
            None => std::future::pending().await,
        }
    }

    /// Gives back the tokens of the first staged block, which will not be
    /// sent (or not now).
    fn refund(&mut self) {
        if let Some(t) = self.ticket.take() {
            t.refund();
        }
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
    use crate::limit::RateLimiter;
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
            assert_eq!(q.push(b(i)), Pushed::New);
        }
        assert_eq!(q.push(b(99_999)), Pushed::Full, "beyond reqq");
        assert!(q.cancel(b(1)));
        assert!(!q.cancel(b(1)));
        assert_eq!(q.pop(), Some(b(0)));
        assert_eq!(q.pop(), Some(b(2)));
        assert_eq!(q.clear().len(), OUR_REQQ - 3);
        assert!(q.is_empty());
    }

    fn data(len: u32) -> Bytes {
        Bytes::from(vec![0u8; len as usize])
    }

    #[test]
    fn without_a_limit_staged_blocks_pass_in_order() {
        let mut q = UploadQueue::default();
        let limit = LimitChain::default();
        q.stage(b(1), data(BLOCK_LEN));
        q.stage(b(2), data(BLOCK_LEN));
        assert_eq!(q.next_to_send(&limit).map(|(b, _)| b), Some(b(1)));
        assert_eq!(q.next_to_send(&limit).map(|(b, _)| b), Some(b(2)));
        assert!(q.next_to_send(&limit).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_holds_staged_blocks_until_paid() {
        // The bucket holds a second (64 KiB): four blocks pass at once.
        let limiter = RateLimiter::new(Some(64 * 1024));
        let limit = LimitChain::new(vec![limiter.clone()]);
        let mut q = UploadQueue::default();
        for i in 0..6 {
            q.stage(b(i), data(BLOCK_LEN));
        }
        for i in 0..4 {
            assert_eq!(q.next_to_send(&limit).map(|(b, _)| b), Some(b(i)));
        }
        assert!(q.next_to_send(&limit).is_none(), "the fifth is owed");
        let t0 = tokio::time::Instant::now();
        q.tokens().await;
        assert!(t0.elapsed() >= std::time::Duration::from_millis(249));
        assert_eq!(q.next_to_send(&limit).map(|(b, _)| b), Some(b(4)));

        // A cancel of the waiting block gives its tokens back, and a choke
        // drops what is staged.
        assert!(q.next_to_send(&limit).is_none());
        assert!(q.cancel(b(5)));
        assert_eq!(q.staged(), 0);
        q.stage(b(6), data(BLOCK_LEN));
        q.push(b(7));
        assert!(q.next_to_send(&limit).is_none());
        assert_eq!(q.clear(), vec![b(6), b(7)]);
        limiter.set_limit(None);
        q.stage(b(8), data(BLOCK_LEN));
        assert_eq!(q.next_to_send(&limit).map(|(b, _)| b), Some(b(8)));
    }

    #[test]
    fn duplicate_request_is_served_once() {
        let mut q = UploadQueue::default();
        assert_eq!(q.push(b(1)), Pushed::New);
        assert_eq!(q.push(b(1)), Pushed::Duplicate);
        assert_eq!(q.len(), 1);
    }
}
