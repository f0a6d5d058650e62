//! The allowed fast set of the fast extension (BEP 6): the pieces a peer
//! may fetch from us while we choke it, so a newcomer with nothing to
//! trade gets its first pieces. The set is derived from the peer's address
//! and the info hash alone, as the BEP specifies, so every reconnection
//! from one address (or one /24) gets the same pieces and nobody gains by
//! reconnecting.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

use crate::types::{InfoHash, PieceIndex};

/// How many pieces we allow a choked peer: the BEP's suggestion.
pub const ALLOWED_FAST_SEND: usize = 10;
/// How many allowed-fast pieces we keep per peer from what it sends us;
/// more are ignored (each costs us nothing but memory).
pub const ALLOWED_FAST_KEEP: usize = 32;
/// How many suggested pieces we keep per peer, newest first.
pub const SUGGEST_KEEP: usize = 16;
/// How many of our rarest pieces we suggest to a peer that joins.
pub const SUGGEST_SEND: usize = 4;

/// The BEP 6 allowed fast set of `k` pieces for `ip` in a torrent of
/// `num_pieces` pieces. IPv4 addresses are taken as their /24, as the BEP
/// says; IPv6 addresses (which the BEP leaves open) as their /64.
pub fn allowed_fast_set(
    ip: IpAddr,
    info_hash: &InfoHash,
    num_pieces: u32,
    k: usize,
) -> Vec<PieceIndex> {
    let k = k.min(num_pieces as usize);
    let mut x = Vec::with_capacity(40);
    match ip {
        IpAddr::V4(v4) => {
            let masked = u32::from(v4) & 0xffff_ff00;
            x.extend_from_slice(&masked.to_be_bytes());
        }
        IpAddr::V6(v6) => x.extend_from_slice(&v6.octets()[..8]),
    }
    x.extend_from_slice(&info_hash.0);
    let mut out: Vec<PieceIndex> = Vec::with_capacity(k);
    while out.len() < k {
        let digest: [u8; 20] = Sha1::digest(&x).into();
        for chunk in digest.chunks_exact(4) {
            if out.len() >= k {
                break;
            }
            // A 4-byte chunk: `chunks_exact(4)` yields nothing shorter.
            let y = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let index = PieceIndex(y % num_pieces);
            if !out.contains(&index) {
                out.push(index);
            }
        }
        x.clear();
        x.extend_from_slice(&digest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The BEP's own example: 1313 pieces, peer 80.4.4.200, an info hash
    /// of twenty 0xaa bytes.
    #[test]
    fn the_beps_example_sets() {
        let ip: IpAddr = "80.4.4.200".parse().unwrap();
        let ih = InfoHash([0xaa; 20]);
        let seven: Vec<u32> = allowed_fast_set(ip, &ih, 1313, 7)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(seven, [1059, 431, 808, 1217, 287, 376, 1188]);
        let nine: Vec<u32> = allowed_fast_set(ip, &ih, 1313, 9)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(nine, [1059, 431, 808, 1217, 287, 376, 1188, 353, 508]);
    }

    #[test]
    fn the_same_subnet_gets_the_same_set_and_small_torrents_every_piece() {
        let ih = InfoHash([7; 20]);
        let a = allowed_fast_set("10.1.2.3".parse().unwrap(), &ih, 500, 10);
        let b = allowed_fast_set("10.1.2.200".parse().unwrap(), &ih, 500, 10);
        assert_eq!(a, b);
        let mut all = allowed_fast_set("10.1.2.3".parse().unwrap(), &ih, 4, 10);
        all.sort();
        assert_eq!(all, (0..4).map(PieceIndex).collect::<Vec<_>>());
        let v6 = allowed_fast_set("fd00::1".parse().unwrap(), &ih, 500, 10);
        assert_eq!(v6.len(), 10);
    }
}
