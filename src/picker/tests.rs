//! One test per picker rule, plus a randomized run that checks the
//! piece-state invariant after every step.

use super::*;
use crate::metainfo::FileEntry;
use crate::storage::Layout;
use std::path::PathBuf;

const K: u32 = BLOCK_LEN;

impl Picker {
    /// Checks every invariant.
    fn check(&self) {
        self.order.check(|i| self.key_of(i));
        let mut free = 0u64;
        for (s, part) in self.partial.iter().enumerate() {
            assert_eq!(self.slot[part.piece as usize], s as u32);
            assert!(self.needed.get(PieceIndex(part.piece)));
            assert!(!self.order.contains(part.piece));
            let count = |st| part.blocks.iter().filter(|b| b.state == st).count() as u32;
            assert_eq!(count(State::Free), part.free);
            assert_eq!(count(State::Requested), part.requested);
            assert_eq!(count(State::Received), part.received);
            for (b, blk) in part.blocks.iter().enumerate() {
                if blk.state == State::Free {
                    assert!(b as u32 >= part.next_free);
                }
            }
            for &(b, p) in &part.extra {
                assert_eq!(part.blocks[b as usize].state, State::Requested);
                assert_ne!(part.blocks[b as usize].peer, p, "same peer twice");
            }
            free += part.free as u64;
        }
        assert_eq!(free, self.free_total);
        for i in 0..self.geo.num_pieces {
            let p = PieceIndex(i);
            let waiting = self.needed.get(p) && self.slot[i as usize] == NONE;
            assert_eq!(self.order.contains(i), waiting, "piece {i}");
            assert!(!(self.have.get(p) && self.needed.get(p)));
        }
    }
}

fn bf(len: u32, ones: &[u32]) -> Bitfield {
    let mut b = Bitfield::new(len);
    for &i in ones {
        b.set(PieceIndex(i), true);
    }
    b
}

fn pick(p: &mut Picker, peer: u32, has: &Bitfield, n: usize) -> Vec<BlockRef> {
    let mut out = Vec::new();
    p.pick(PeerKey(peer), has, n, &mut out);
    p.check();
    out
}

fn pieces(blocks: &[BlockRef]) -> Vec<u32> {
    let mut v: Vec<u32> = blocks.iter().map(|b| b.piece.0).collect();
    v.dedup();
    v
}

#[test]
fn rarest_first() {
    // Piece 3 is kept from everyone so no peer is a seed.
    let mut p = Picker::new(4, K, 4 * K as u64);
    p.peer_bitfield(PeerKey(1), &bf(4, &[0, 1, 2]));
    p.peer_bitfield(PeerKey(2), &bf(4, &[0, 2]));
    p.peer_bitfield(PeerKey(3), &bf(4, &[0]));
    p.check();
    let all = bf(4, &[0, 1, 2]);
    assert_eq!(pieces(&pick(&mut p, 1, &all, 1)), vec![1]);
    assert_eq!(pieces(&pick(&mut p, 1, &all, 1)), vec![2]);
    assert_eq!(pieces(&pick(&mut p, 1, &all, 1)), vec![0]);
    assert!(pick(&mut p, 1, &all, 1).is_empty());
}

#[test]
fn availability_changes_reorder() {
    let mut p = Picker::new(3, K, 3 * K as u64);
    p.peer_bitfield(PeerKey(1), &bf(3, &[0, 1]));
    p.peer_have(PeerKey(2), PieceIndex(0));
    p.peer_have(PeerKey(3), PieceIndex(0));
    p.check();
    // Piece 1 (one peer) before piece 0 (three).
    assert_eq!(pieces(&pick(&mut p, 1, &bf(3, &[0, 1]), 1)), vec![1]);
    // Peers 2 and 3 leave: piece 0 is now as rare as anything.
    p.peer_left(PeerKey(2), &bf(3, &[0]));
    p.peer_left(PeerKey(3), &bf(3, &[0]));
    p.check();
    assert_eq!(p.availability(PieceIndex(0)), 1);
}

#[test]
fn rarest_first_breaks_ties_at_random() {
    let mut first = [0u32; 4];
    for _ in 0..400 {
        let mut p = Picker::new(4, K, 4 * K as u64);
        let has = bf(4, &[0, 1, 2, 3]);
        p.peer_bitfield(PeerKey(1), &has);
        first[pick(&mut p, 1, &has, 1)[0].piece.as_usize()] += 1;
    }
    assert!(
        first.iter().all(|&n| n > 40),
        "not spread evenly: {first:?}"
    );
}

#[test]
fn seeds_do_not_change_rank() {
    let mut p = Picker::new(3, K, 3 * K as u64);
    p.peer_bitfield(PeerKey(9), &Bitfield::full(3));
    p.peer_bitfield(PeerKey(1), &bf(3, &[0, 2]));
    p.check();
    assert_eq!(p.availability(PieceIndex(1)), 1);
    assert_eq!(p.availability(PieceIndex(0)), 2);
    // The seed gets the piece only it has.
    assert_eq!(pieces(&pick(&mut p, 9, &Bitfield::full(3), 1)), vec![1]);
    p.peer_left(PeerKey(9), &Bitfield::full(3));
    assert_eq!(p.availability(PieceIndex(1)), 0);
    p.check();
}

#[test]
fn a_peer_continues_its_own_piece() {
    let mut p = Picker::new(4, 4 * K, 16 * K as u64);
    let all = Bitfield::full(4);
    p.peer_bitfield(PeerKey(1), &all);
    p.peer_bitfield(PeerKey(2), &all);
    let a1 = pick(&mut p, 1, &all, 1);
    let b1 = pick(&mut p, 2, &all, 1);
    assert_ne!(a1[0].piece, b1[0].piece, "peer 2 opens its own piece");
    let a2 = pick(&mut p, 1, &all, 3);
    assert!(a2.iter().all(|b| b.piece == a1[0].piece));
    assert_eq!(
        a2.iter().map(|b| b.offset).collect::<Vec<_>>(),
        vec![K, 2 * K, 3 * K],
        "blocks in order"
    );
    let b2 = pick(&mut p, 2, &all, 1);
    assert_eq!(b2[0].piece, b1[0].piece);
}

#[test]
fn started_pieces_are_finished_before_new_ones() {
    let mut p = Picker::new(4, 4 * K, 16 * K as u64);
    let all = bf(4, &[0, 1, 2, 3]);
    p.peer_bitfield(PeerKey(1), &bf(4, &[0, 1, 2, 3]));
    p.peer_bitfield(PeerKey(2), &bf(4, &[0, 1, 2, 3]));
    // Peer 1 takes two blocks of a piece, gets one, then leaves.
    let a = pick(&mut p, 1, &all, 2);
    let piece = a[0].piece;
    assert!(matches!(
        p.block_received(PeerKey(1), a[0]),
        Received::New { .. }
    ));
    p.peer_left(PeerKey(1), &all);
    p.check();
    // Peer 2 finishes that piece first: blocks 1..4.
    let b = pick(&mut p, 2, &all, 3);
    assert!(b.iter().all(|x| x.piece == piece), "{b:?}");
    assert_eq!(b[0].offset, K);
    // And only then opens a new one.
    let c = pick(&mut p, 2, &all, 1);
    assert_ne!(c[0].piece, piece);
}

#[test]
fn a_rejected_or_timed_out_piece_is_adopted() {
    let mut p = Picker::new(2, 2 * K, 4 * K as u64);
    let all = Bitfield::full(2);
    p.peer_bitfield(PeerKey(1), &all);
    p.peer_bitfield(PeerKey(2), &all);
    let a = pick(&mut p, 1, &all, 1);
    p.request_rejected(PeerKey(1), a[0]);
    p.check();
    let b = pick(&mut p, 2, &all, 2);
    assert_eq!(b, vec![a[0], BlockRef { offset: K, ..a[0] }]);
    p.request_timed_out(PeerKey(2), b[1]);
    let c = pick(&mut p, 1, &all, 1);
    assert_eq!(c, vec![b[1]], "the timed-out block goes to another peer");
    // The late block still counts, and the new requester gets a cancel.
    assert_eq!(
        p.block_received(PeerKey(2), b[1]),
        Received::New {
            piece_complete: false,
            cancel: vec![PeerKey(1)]
        }
    );
    p.check();
}

#[test]
fn file_priorities_map_to_pieces() {
    // Files: a (1.5 pieces, skipped), b (1 piece, normal), pad, c (high).
    let files = [
        (3 * K / 2, false),
        (K, false),
        (K / 2, true),
        (2 * K, false),
    ];
    let mut offset = 0;
    let files = files
        .iter()
        .enumerate()
        .map(|(i, &(length, pad))| {
            let f = FileEntry {
                path: PathBuf::from(format!("t/{i}")),
                length: length as u64,
                offset,
                pad,
                attr: String::new(),
            };
            offset += length as u64;
            f
        })
        .collect();
    let layout = Layout {
        files,
        piece_length: K as u64,
        total_length: offset,
    };
    let prio = piece_priorities(
        &layout,
        &[
            Priority::Skip,
            Priority::Normal,
            Priority::Normal,
            Priority::High,
        ],
    );
    // Piece 0: only a. Piece 1: a and b (shared: wanted). Piece 2: b and the
    // pad (which does not count). Pieces 3, 4: c.
    use Priority::*;
    assert_eq!(prio, vec![Skip, Normal, Normal, High, High]);

    let mut p = Picker::new(5, K, offset);
    p.set_piece_priorities(prio);
    p.check();
    assert_eq!(p.missing(), 4);
    assert_eq!(p.wanted_remaining_bytes(), 4 * K as u64);
    // Piece 1 is rarer than the High pieces, yet High comes first.
    p.peer_bitfield(PeerKey(1), &bf(5, &[0, 1, 2, 3]));
    p.peer_bitfield(PeerKey(2), &bf(5, &[0, 2, 3, 4]));
    p.peer_bitfield(PeerKey(3), &bf(5, &[0, 2, 3, 4]));
    let all = Bitfield::full(5);
    p.peer_bitfield(PeerKey(4), &all);
    let got: Vec<u32> = (0..4)
        .map(|_| pick(&mut p, 4, &all, 1)[0].piece.0)
        .collect();
    assert!(matches!(got[..2], [3, 4] | [4, 3]), "{got:?}");
    assert_eq!(got[2..], [1, 2], "then Normal, rarest first");
    assert!(pick(&mut p, 4, &all, 1).is_empty(), "piece 0 is skipped");
    assert!(!p.is_interesting(&bf(5, &[0])));
    assert!(p.is_interesting(&bf(5, &[0, 4])));
    for i in 1..5 {
        p.piece_verified(PieceIndex(i));
    }
    assert!(p.is_complete());
    assert_eq!(p.wanted_remaining_bytes(), 0);
    p.check();
}

#[test]
fn low_comes_after_normal_and_high() {
    // Pieces 0, 1 Low (and the rarest), 2, 3 Normal, 4 High.
    use Priority::*;
    let mut p = Picker::new(5, K, 5 * K as u64);
    p.set_piece_priorities(vec![Low, Low, Normal, Normal, High]);
    p.check();
    assert_eq!(p.missing(), 5, "Low pieces are wanted");
    p.peer_bitfield(PeerKey(1), &bf(5, &[2, 3, 4]));
    p.peer_bitfield(PeerKey(2), &bf(5, &[2, 3, 4]));
    let all = Bitfield::full(5);
    p.peer_bitfield(PeerKey(3), &all);
    let got: Vec<u32> = (0..5)
        .map(|_| pick(&mut p, 3, &all, 1)[0].piece.0)
        .collect();
    assert_eq!(got[0], 4, "High first: {got:?}");
    assert!(matches!(got[1..3], [2, 3] | [3, 2]), "then Normal: {got:?}");
    assert!(matches!(got[3..], [0, 1] | [1, 0]), "Low last: {got:?}");
    // A peer with only Low pieces still gets them.
    let mut p = Picker::new(5, K, 5 * K as u64);
    p.set_piece_priorities(vec![Low, Low, Normal, Normal, High]);
    assert_eq!(pick(&mut p, 1, &bf(5, &[1]), 1)[0].piece.0, 1);
    p.check();
}

#[test]
fn low_files_make_low_pieces_unless_shared_with_normal() {
    // Files: a (1.5 pieces, low), b (1.5 pieces, normal).
    let files: Vec<FileEntry> = (0..2u64)
        .map(|i| FileEntry {
            path: PathBuf::from(format!("t/{i}")),
            length: 3 * K as u64 / 2,
            offset: i * 3 * K as u64 / 2,
            pad: false,
            attr: String::new(),
        })
        .collect();
    let layout = Layout {
        files,
        piece_length: K as u64,
        total_length: 3 * K as u64,
    };
    use Priority::*;
    assert_eq!(
        piece_priorities(&layout, &[Low, Normal]),
        vec![Low, Normal, Normal]
    );
    assert_eq!(
        piece_priorities(&layout, &[Low, Skip]),
        vec![Low, Low, Skip]
    );
}

#[test]
fn skipping_a_started_piece_drops_it() {
    let mut p = Picker::new(2, K, 2 * K as u64);
    let all = Bitfield::full(2);
    p.peer_bitfield(PeerKey(1), &all);
    let a = pick(&mut p, 1, &all, 2);
    assert_eq!(a.len(), 2);
    p.set_piece_priorities(vec![Priority::Skip, Priority::Normal]);
    p.check();
    assert_eq!(
        p.block_received(
            PeerKey(1),
            a.iter().find(|b| b.piece.0 == 0).copied().unwrap()
        ),
        Received::Unwanted
    );
    assert_eq!(p.missing(), 1);
}

#[test]
fn sequential_takes_lowest_index_first() {
    let mut p = Picker::new(6, K, 6 * K as u64);
    p.set_sequential(true);
    // Piece 5 is rarest, but order is by index.
    p.peer_bitfield(PeerKey(1), &bf(6, &[0, 1, 2, 3, 4, 5]));
    p.peer_bitfield(PeerKey(2), &bf(6, &[0, 1, 2, 3, 4]));
    p.piece_verified(PieceIndex(0));
    let has = bf(6, &[0, 1, 2, 3, 4, 5]);
    let got: Vec<u32> = (0..5)
        .map(|_| pick(&mut p, 1, &has, 1)[0].piece.0)
        .collect();
    assert_eq!(got, vec![1, 2, 3, 4, 5]);
    // A peer without piece 1 starts at the lowest it has.
    let mut p = Picker::new(6, K, 6 * K as u64);
    p.set_sequential(true);
    assert_eq!(pick(&mut p, 2, &bf(6, &[3, 4]), 1)[0].piece.0, 3);
    // High still comes first.
    p.set_piece_priorities(vec![
        Priority::Normal,
        Priority::Normal,
        Priority::Normal,
        Priority::Normal,
        Priority::Normal,
        Priority::High,
    ]);
    assert_eq!(pick(&mut p, 1, &Bitfield::full(6), 1)[0].piece.0, 5);
    assert_eq!(pick(&mut p, 1, &Bitfield::full(6), 1)[0].piece.0, 0);
    // Low comes last, in order too.
    let mut p = Picker::new(6, K, 6 * K as u64);
    p.set_sequential(true);
    use Priority::*;
    p.set_piece_priorities(vec![Low, Low, Normal, Normal, Low, High]);
    let got: Vec<u32> = (0..6)
        .map(|_| pick(&mut p, 1, &Bitfield::full(6), 1)[0].piece.0)
        .collect();
    assert_eq!(got, vec![5, 2, 3, 0, 1, 4]);
}

#[test]
fn endgame_duplicates_requests_and_cancels() {
    // One piece of three blocks, the last one short.
    let len = 2 * K as u64 + 100;
    let mut p = Picker::new(1, 4 * K, len);
    let all = Bitfield::full(1);
    for peer in 1..=4 {
        p.peer_bitfield(PeerKey(peer), &all);
    }
    let a = pick(&mut p, 1, &all, 10);
    assert_eq!(a.len(), 3);
    assert_eq!(a[2].len, 100);
    assert!(p.in_endgame());
    // Peer 2 is asked for the same blocks; never twice.
    let b = pick(&mut p, 2, &all, 10);
    assert_eq!(b, a);
    assert!(pick(&mut p, 2, &all, 10).is_empty());
    assert!(pick(&mut p, 1, &all, 10).is_empty());
    // A third peer, then nobody more (at most three per block).
    assert_eq!(pick(&mut p, 3, &all, 10).len(), 3);
    assert!(pick(&mut p, 4, &all, 10).is_empty());
    // The block arrives from peer 2: cancel it at 1 and 3.
    match p.block_received(PeerKey(2), a[0]) {
        Received::New {
            piece_complete: false,
            mut cancel,
        } => {
            cancel.sort();
            assert_eq!(cancel, vec![PeerKey(1), PeerKey(3)]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.block_received(PeerKey(1), a[0]), Received::Duplicate);
    p.check();
    // Peer 1 cancels one; the others still hold it.
    p.request_cancelled(PeerKey(1), a[1]);
    p.check();
    assert!(pick(&mut p, 1, &all, 10).iter().all(|b| *b != a[0]));
    assert!(matches!(
        p.block_received(PeerKey(3), a[1]),
        Received::New { .. }
    ));
    assert_eq!(
        p.block_received(PeerKey(4), a[2]).sorted(),
        Received::New {
            piece_complete: true,
            cancel: vec![PeerKey(1), PeerKey(2), PeerKey(3)]
        }
        .sorted()
    );
    p.check();
    p.piece_verified(PieceIndex(0));
    assert!(p.is_complete());
    assert!(!p.in_endgame());
}

impl Received {
    /// The same value with `cancel` sorted, for comparisons.
    fn sorted(self) -> Self {
        match self {
            Received::New {
                piece_complete,
                mut cancel,
            } => {
                cancel.sort();
                Received::New {
                    piece_complete,
                    cancel,
                }
            }
            r => r,
        }
    }
}

#[test]
fn failed_piece_starts_over() {
    let mut p = Picker::new(2, 2 * K, 4 * K as u64);
    let all = Bitfield::full(2);
    p.peer_bitfield(PeerKey(1), &all);
    p.peer_bitfield(PeerKey(2), &all);
    let a = pick(&mut p, 1, &all, 1);
    p.request_rejected(PeerKey(1), a[0]);
    let piece = a[0].piece;
    let b = pick(&mut p, 2, &all, 2);
    assert!(b.iter().all(|x| x.piece == piece));
    assert!(matches!(
        p.block_received(PeerKey(2), b[0]),
        Received::New {
            piece_complete: false,
            ..
        }
    ));
    // Peer 1 sends the other block after all (unrequested from it now).
    assert!(matches!(
        p.block_received(PeerKey(1), b[1]),
        Received::New {
            piece_complete: true,
            ..
        }
    ));
    p.piece_failed(piece);
    p.check();
    assert_eq!(p.missing(), 2);
    // Blocks of the failed piece can be picked again.
    let c = pick(&mut p, 1, &bf(2, &[piece.0]), 5);
    assert_eq!(c.len(), 2);
}

/// A peer on parole neither adopts a piece another peer left, nor helps
/// with one, nor joins the endgame: it opens pieces of its own. Failed
/// pieces are fetched again first (the torrent hides from a peer those it
/// took part in, as peer 1's bitfield does here).
#[test]
fn a_peer_on_parole_works_alone_and_failed_pieces_go_first() {
    let mut p = Picker::new(4, 2 * K, 8 * K as u64);
    let all = Bitfield::full(4);
    for k in 1..=3 {
        p.peer_bitfield(PeerKey(k), &all);
    }
    // Peer 1 fetches a piece that fails.
    let a = pick(&mut p, 1, &all, 2);
    let failed = a[0].piece;
    for b in &a {
        p.block_received(PeerKey(1), *b);
    }
    p.piece_failed(failed);
    p.retry_first(failed);
    p.set_parole(PeerKey(1), true);
    assert!(p.on_parole(PeerKey(1)));
    // Peer 2 starts another piece and leaves it half done.
    let b = pick(&mut p, 2, &bf(4, &[(failed.0 + 1) % 4]), 1);
    let orphan = b[0].piece;
    p.block_received(PeerKey(2), b[0]);
    p.peer_left(PeerKey(2), &bf(4, &[orphan.0]));
    // The peer on parole opens a new piece: not the orphan (nor the
    // failed one, which it took part in).
    let mut not_failed = all.clone();
    not_failed.set(failed, false);
    let c = pick(&mut p, 1, &not_failed, 2);
    assert_eq!(pieces(&c).len(), 1);
    assert!(c[0].piece != failed && c[0].piece != orphan, "{c:?}");
    // A peer not on parole takes the orphan, then the failed piece.
    let d = pick(&mut p, 3, &all, 3);
    assert_eq!(d[0].piece, orphan);
    assert_eq!(d[1].piece, failed);
    assert_eq!(d[2].piece, failed);
    // The peer on parole does not help with those; it opens the last one.
    let e = pick(&mut p, 1, &all, 4);
    assert!(
        e.iter().all(|x| x.piece != failed && x.piece != orphan),
        "{e:?}"
    );
    // With nothing of its own left, it picks like anyone (endgame here),
    // so a torrent with only peers on parole still completes.
    let f = pick(&mut p, 1, &all, 8);
    assert!(!f.is_empty());
    p.set_parole(PeerKey(1), false);
    assert!(!p.on_parole(PeerKey(1)));
}

#[test]
fn a_departing_peer_releases_its_blocks() {
    let mut p = Picker::new(1, 4 * K, 4 * K as u64);
    let all = Bitfield::full(1);
    p.peer_bitfield(PeerKey(1), &all);
    p.peer_bitfield(PeerKey(2), &all);
    assert_eq!(pick(&mut p, 1, &all, 4).len(), 4);
    p.peer_left(PeerKey(1), &all);
    p.check();
    assert!(!p.in_endgame());
    assert_eq!(pick(&mut p, 2, &all, 4).len(), 4);
}

#[test]
fn allowed_fast_only_gives_allowed_pieces() {
    let mut p = Picker::new(8, K, 8 * K as u64);
    let all = Bitfield::full(8);
    p.peer_bitfield(PeerKey(1), &all);
    let mut out = Vec::new();
    p.pick_allowed_fast(
        PeerKey(1),
        &all,
        &[PieceIndex(6), PieceIndex(2)],
        5,
        &mut out,
    );
    p.check();
    assert_eq!(pieces(&out), vec![6, 2]);
    out.clear();
    p.pick_allowed_fast(PeerKey(1), &all, &[PieceIndex(6)], 5, &mut out);
    assert!(out.is_empty(), "nothing twice");
}

#[test]
fn unwanted_and_duplicate_blocks() {
    let mut p = Picker::new(2, K, K as u64 + 10);
    let all = Bitfield::full(2);
    p.peer_bitfield(PeerKey(1), &all);
    let blk = |piece, offset, len| BlockRef {
        piece: PieceIndex(piece),
        offset,
        len,
    };
    assert_eq!(
        p.block_received(PeerKey(1), blk(0, 0, K)),
        Received::Unwanted,
        "not started"
    );
    assert_eq!(
        p.block_received(PeerKey(1), blk(5, 0, K)),
        Received::Unwanted
    );
    assert_eq!(
        p.block_received(PeerKey(1), blk(0, 1, K)),
        Received::Unwanted
    );
    let mut a = pick(&mut p, 1, &all, 2);
    a.sort_by_key(|b| b.piece);
    assert_eq!(a[1], blk(1, 0, 10), "short last piece");
    assert_eq!(
        p.block_received(PeerKey(1), blk(1, 0, K)),
        Received::Unwanted,
        "wrong length"
    );
    assert!(matches!(
        p.block_received(PeerKey(1), a[1]),
        Received::New {
            piece_complete: true,
            ..
        }
    ));
    assert_eq!(p.block_received(PeerKey(1), a[1]), Received::Duplicate);
    p.piece_verified(PieceIndex(1));
    assert_eq!(p.block_received(PeerKey(1), a[1]), Received::Duplicate);
    p.we_have(PieceIndex(0));
    assert!(p.is_complete());
    assert!(!p.is_interesting(&all));
    p.check();
}

#[test]
fn randomized_runs_keep_the_invariant() {
    let mut rng = Rng::new();
    for round in 0..20 {
        let n = 1 + rng.below(40);
        let piece_len = K * (1 + rng.below(4));
        let total = n as u64 * piece_len as u64 - rng.below(piece_len) as u64;
        let mut p = Picker::new(n, piece_len, total);
        if round % 3 == 0 {
            p.set_sequential(true);
        }
        let mut peers: Vec<(u32, Bitfield, Vec<BlockRef>)> = Vec::new();
        for step in 0..3000 {
            match rng.below(10) {
                0 if peers.len() < 6 => {
                    let mut has = Bitfield::new(n);
                    let full = rng.below(3) == 0;
                    for i in 0..n {
                        if full || rng.below(2) == 0 {
                            has.set(PieceIndex(i), true);
                        }
                    }
                    let key = step;
                    p.peer_bitfield(PeerKey(key), &has);
                    peers.push((key, has, Vec::new()));
                }
                1 if !peers.is_empty() => {
                    let (key, has, _) = peers.swap_remove(rng.below(peers.len() as u32) as usize);
                    p.peer_left(PeerKey(key), &has);
                }
                2 if !peers.is_empty() => {
                    let k = rng.below(peers.len() as u32) as usize;
                    let piece = PieceIndex(rng.below(n));
                    if peers[k].1.set(piece, true) {
                        p.peer_have(PeerKey(peers[k].0), piece);
                    }
                }
                3 if !peers.is_empty() => {
                    let k = rng.below(peers.len() as u32) as usize;
                    if let Some(b) = peers[k].2.pop() {
                        p.request_timed_out(PeerKey(peers[k].0), b);
                    }
                }
                4 if rng.below(20) == 0 => {
                    let prio = (0..n)
                        .map(|_| match rng.below(4) {
                            0 => Priority::Skip,
                            1 => Priority::Low,
                            2 => Priority::Normal,
                            _ => Priority::High,
                        })
                        .collect();
                    p.set_piece_priorities(prio);
                    // Requests of dropped pieces are cancelled by the caller.
                    for (_, _, reqs) in &mut peers {
                        reqs.retain(|b| p.needed.get(b.piece));
                    }
                }
                5 | 6 if !peers.is_empty() => {
                    let k = rng.below(peers.len() as u32) as usize;
                    let (key, has, reqs) = &mut peers[k];
                    let mut out = Vec::new();
                    p.pick(PeerKey(*key), has, 1 + rng.below(4) as usize, &mut out);
                    for b in &out {
                        assert!(has.get(b.piece));
                        assert!(!reqs.contains(b), "same block twice to one peer");
                    }
                    reqs.extend(out);
                }
                _ if !peers.is_empty() => {
                    let k = rng.below(peers.len() as u32) as usize;
                    let key = PeerKey(peers[k].0);
                    if peers[k].2.is_empty() {
                        continue;
                    }
                    let b = peers[k].2.remove(0);
                    if let Received::New {
                        piece_complete,
                        cancel,
                    } = p.block_received(key, b)
                    {
                        for c in cancel {
                            if let Some(x) = peers.iter_mut().find(|x| PeerKey(x.0) == c) {
                                x.2.retain(|r| *r != b);
                            }
                        }
                        if piece_complete && rng.below(4) == 0 {
                            p.piece_failed(b.piece);
                        } else if piece_complete {
                            p.piece_verified(b.piece);
                        }
                    }
                }
                _ => {}
            }
            p.check();
        }
    }
}

/// Picks per second on a large torrent (65,536 pieces of 16 blocks) with a
/// mix of seeds and partial peers, one block per call as a peer task would
/// ask as each block arrives. A benchmark, not a test: run
/// `cargo test --release --lib picker_throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn picker_throughput() {
    let n = 65_536u32;
    let mut p = Picker::new(n, 16 * K, n as u64 * 16 * K as u64);
    let mut rng = Rng::new();
    let mut peers = Vec::new();
    for key in 0..30u32 {
        let has = if key < 5 {
            Bitfield::full(n)
        } else {
            let mut b = Bitfield::new(n);
            for i in 0..n {
                if rng.below(3) != 0 {
                    b.set(PieceIndex(i), true);
                }
            }
            b
        };
        p.peer_bitfield(PeerKey(key), &has);
        peers.push(has);
    }
    let t = std::time::Instant::now();
    let mut picks = 0u64;
    let mut out = Vec::new();
    // Each peer keeps a few blocks in flight; one arrives, one is asked for.
    let mut inflight: Vec<std::collections::VecDeque<BlockRef>> = vec![Default::default(); 30];
    while !p.is_complete() {
        let k = rng.below(30) as usize;
        if let Some(b) = inflight[k].pop_front() {
            if let Received::New {
                piece_complete: true,
                ..
            } = p.block_received(PeerKey(k as u32), b)
            {
                p.piece_verified(b.piece);
            }
        }
        while inflight[k].len() < 8 {
            out.clear();
            p.pick(PeerKey(k as u32), &peers[k], 1, &mut out);
            picks += 1;
            match out.pop() {
                Some(b) => inflight[k].push_back(b),
                None => break,
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{picks} pick calls for {} blocks in {secs:.2} s: {:.0} picks/s",
        n as u64 * 16,
        picks as f64 / secs
    );
}
