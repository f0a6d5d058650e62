//! The MSE handshake itself, both sides, over any transport: the
//! Diffie-Hellman exchange, the keys, the synchronisation searches and the
//! encrypted negotiation. Every length the peer chooses is checked against
//! its bound before anything is read for it, and every byte read sits in
//! one buffer of fixed capacity ([`BUF_CAP`]).
//!
//! ```text
//! A -> B  Ya, PadA
//! B -> A  Yb, PadB
//! A -> B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
//!         ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
//! B -> A  ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload...)
//! ```

use num_bigint::BigUint;
use rand::{Rng, RngCore};
use rc4::{KeyInit, StreamCipher};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::stream::MseStream;
use super::{Crypto, Encryption, MseError};
use crate::types::InfoHash;

/// RC4 with a 160-bit key, as MSE keys it.
pub(crate) type Cipher = rc4::Rc4<rc4::consts::U20>;

/// The 768-bit prime of the key exchange (generator 2).
const PRIME: [u8; KEY_LEN] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x3A, 0x36, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x05, 0x63,
];
/// Bytes of a public key and of the shared secret S.
pub const KEY_LEN: usize = 96;
/// Longest PadA, PadB, PadC and PadD.
pub const MAX_PAD: usize = 512;
/// Longest initial payload (IA) we take from an initiator: a handshake is
/// 68 bytes, and some clients add their first messages.
pub const MAX_IA: usize = 4096;
/// How far after Ya the responder looks for HASH('req1', S): Ya, the
/// longest PadA and the hash (628 bytes from the first byte).
const REQ1_WINDOW: usize = MAX_PAD + 20;
/// How far after Yb the initiator looks for the encrypted VC.
const VC_WINDOW: usize = MAX_PAD + 8;
/// Everything one side may have to hold at once: the responder's Ya,
/// PadA, two hashes, the fixed part, PadC, len(IA) and IA (the
/// initiator needs less). Reads never go past it.
pub const BUF_CAP: usize = KEY_LEN + MAX_PAD + 20 + 20 + 14 + MAX_PAD + 2 + MAX_IA;
/// Verification constant.
const VC: [u8; 8] = [0; 8];
/// crypto_provide / crypto_select bits.
const CRYPTO_PLAINTEXT: u32 = 0x01;
const CRYPTO_RC4: u32 = 0x02;
/// Keystream bytes discarded before use.
const DISCARD: usize = 1024;

/// One side's Diffie-Hellman keys.
struct KeyPair {
    /// Our private exponent (160 bits, as the specification advises).
    private: BigUint,
    /// 2^private mod P, 96 bytes big-endian.
    public: [u8; KEY_LEN],
}

impl KeyPair {
    fn new() -> KeyPair {
        let mut x = [0u8; 20];
        rand::thread_rng().fill_bytes(&mut x);
        let private = BigUint::from_bytes_be(&x);
        let y = BigUint::from(2u32).modpow(&private, &prime());
        KeyPair {
            private,
            public: to_key_bytes(&y),
        }
    }

    /// S from the peer's public key; refuses a key outside 2..P-2 (1 and
    /// P-1 would make S guessable).
    fn shared(&self, theirs: &[u8]) -> Result<[u8; KEY_LEN], MseError> {
        let y = BigUint::from_bytes_be(theirs);
        let p = prime();
        if y < BigUint::from(2u32) || y >= &p - 1u32 {
            return Err(MseError::Protocol("a public key out of range"));
        }
        Ok(to_key_bytes(&y.modpow(&self.private, &p)))
    }
}

fn prime() -> BigUint {
    BigUint::from_bytes_be(&PRIME)
}

/// A number below P as 96 bytes, big-endian, zeros in front.
fn to_key_bytes(n: &BigUint) -> [u8; KEY_LEN] {
    let b = n.to_bytes_be();
    let mut out = [0u8; KEY_LEN];
    // A number below P has at most 96 bytes.
    out[KEY_LEN - b.len().min(KEY_LEN)..].copy_from_slice(&b[b.len().saturating_sub(KEY_LEN)..]);
    out
}

fn hash(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HASH('req2', SKEY): what the responder compares against each torrent.
pub fn req2(info_hash: &InfoHash) -> [u8; 20] {
    hash(&[b"req2", &info_hash.0])
}

/// The RC4 state keyed by `'keyA'` or `'keyB'`, S and SKEY, past its
/// discarded first 1,024 bytes.
fn cipher(which: &[u8], s: &[u8; KEY_LEN], skey: &InfoHash) -> Cipher {
    let key = hash(&[which, s, &skey.0]);
    let mut c = Cipher::new(&key.into());
    c.apply_keystream(&mut [0u8; DISCARD]);
    c
}

fn random_pad() -> Vec<u8> {
    let mut rng = rand::thread_rng();
    let mut pad = vec![0u8; rng.gen_range(0..=MAX_PAD)];
    rng.fill_bytes(&mut pad);
    pad
}

/// The bytes read from the peer during the handshake: one buffer of
/// `BUF_CAP` bytes, consumed from the front.
struct Input<'a, S> {
    io: &'a mut S,
    buf: Vec<u8>,
    pos: usize,
}

impl<'a, S: AsyncRead + Unpin> Input<'a, S> {
    fn new(io: &'a mut S, already: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(BUF_CAP);
        buf.extend_from_slice(&already[..already.len().min(BUF_CAP)]);
        Input { io, buf, pos: 0 }
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads once more, never past the buffer's capacity.
    async fn more(&mut self) -> Result<(), MseError> {
        let len = self.buf.len();
        if len == BUF_CAP {
            return Err(MseError::Protocol("a handshake longer than its bounds"));
        }
        self.buf.resize(BUF_CAP, 0);
        let r = self.io.read(&mut self.buf[len..]).await;
        let n = match r {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(len);
                return Err(e.into());
            }
        };
        self.buf.truncate(len + n);
        if n == 0 {
            return Err(MseError::Closed);
        }
        Ok(())
    }

    /// Waits until `n` unconsumed bytes are in.
    async fn need(&mut self, n: usize) -> Result<(), MseError> {
        while self.available().len() < n {
            self.more().await?;
        }
        Ok(())
    }

    /// Consumes `n` bytes (already in).
    fn take(&mut self, n: usize) -> &mut [u8] {
        let start = self.pos;
        self.pos += n;
        &mut self.buf[start..start + n]
    }

    /// Consumes `n` bytes, decrypted by `c`.
    async fn take_decrypted(&mut self, n: usize, c: &mut Cipher) -> Result<&[u8], MseError> {
        self.need(n).await?;
        let b = self.take(n);
        c.apply_keystream(b);
        Ok(b)
    }

    /// Finds `pattern` starting at most `window - pattern.len()` bytes
    /// into the unconsumed input and consumes up to its end.
    async fn sync(&mut self, pattern: &[u8], window: usize) -> Result<(), MseError> {
        loop {
            let avail = self.available();
            if let Some(i) = avail.windows(pattern.len()).position(|w| w == pattern) {
                if i + pattern.len() <= window {
                    self.pos += i + pattern.len();
                    return Ok(());
                }
            }
            if avail.len() >= window {
                return Err(MseError::Protocol(
                    "no synchronisation within the padding bound",
                ));
            }
            self.more().await?;
        }
    }

    /// What was read past the handshake.
    fn rest(self) -> Vec<u8> {
        self.buf[self.pos..].to_vec()
    }
}

/// The bits we offer as the initiator.
fn provide(mode: Encryption) -> u32 {
    match mode {
        Encryption::Require => CRYPTO_RC4,
        Encryption::Prefer | Encryption::Off => CRYPTO_RC4 | CRYPTO_PLAINTEXT,
    }
}

/// What we choose as the responder from what the initiator offered.
fn select(mode: Encryption, offered: u32) -> Result<u32, MseError> {
    if offered & CRYPTO_RC4 != 0 {
        Ok(CRYPTO_RC4)
    } else if offered & CRYPTO_PLAINTEXT != 0 && mode != Encryption::Require {
        Ok(CRYPTO_PLAINTEXT)
    } else {
        Err(MseError::NoCommonMethod)
    }
}

/// The initiator's side (we dialled): `ia` is sent as the initial payload
/// (our BitTorrent handshake). Returns the stream and what was chosen.
pub async fn initiate<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    skey: InfoHash,
    mode: Encryption,
    ia: &[u8],
) -> Result<(MseStream<S>, Crypto), MseError> {
    let keys = KeyPair::new();
    let mut first = keys.public.to_vec();
    first.extend_from_slice(&random_pad());
    io.write_all(&first).await?;

    let mut input = Input::new(&mut io, &[]);
    input.need(KEY_LEN).await?;
    let s = keys.shared(input.take(KEY_LEN))?;
    let mut enc = cipher(b"keyA", &s, &skey);
    let mut dec = cipher(b"keyB", &s, &skey);

    let mut msg = Vec::with_capacity(40 + 14 + 2 + ia.len());
    msg.extend_from_slice(&hash(&[b"req1", &s]));
    let r2 = req2(&skey);
    let r3 = hash(&[b"req3", &s]);
    msg.extend(r2.iter().zip(r3.iter()).map(|(a, b)| a ^ b));
    let start = msg.len();
    msg.extend_from_slice(&VC);
    msg.extend_from_slice(&provide(mode).to_be_bytes());
    msg.extend_from_slice(&0u16.to_be_bytes()); // no PadC
                                                // IA is at most a handshake here; its length fits in two bytes.
    msg.extend_from_slice(&(ia.len().min(u16::MAX as usize) as u16).to_be_bytes());
    msg.extend_from_slice(ia);
    enc.apply_keystream(&mut msg[start..]);
    input.io.write_all(&msg).await?;

    // B's VC, encrypted, ends PadB: the first 8 keystream bytes of keyB.
    let mut vc = VC;
    cipher(b"keyB", &s, &skey).apply_keystream(&mut vc);
    input.sync(&vc, VC_WINDOW).await?;
    dec.apply_keystream(&mut [0u8; 8]);
    let fixed = input.take_decrypted(6, &mut dec).await?;
    let chosen = u32::from_be_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]);
    let pad_d = u16::from_be_bytes([fixed[4], fixed[5]]) as usize;
    if pad_d > MAX_PAD {
        return Err(MseError::Protocol("PadD longer than 512 bytes"));
    }
    input.take_decrypted(pad_d, &mut dec).await?;
    let crypto = match chosen {
        CRYPTO_RC4 => Crypto::Rc4,
        CRYPTO_PLAINTEXT if mode != Encryption::Require => Crypto::HeaderOnly,
        _ => return Err(MseError::NoCommonMethod),
    };
    let mut rest = input.rest();
    let (read, write) = if crypto == Crypto::Rc4 {
        dec.apply_keystream(&mut rest);
        (Some(dec), Some(enc))
    } else {
        (None, None)
    };
    Ok((MseStream::new(io, rest, read, write), crypto))
}

/// The responder's side (the peer dialled us). `already` holds the first
/// bytes read (to tell a plain handshake from Ya); `find` names the
/// torrent whose HASH('req2', info hash) is the argument, if we have it.
pub async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    already: &[u8],
    mode: Encryption,
    find: &(dyn Fn(&[u8; 20]) -> Option<InfoHash> + Send + Sync),
) -> Result<(MseStream<S>, InfoHash, Crypto), MseError> {
    if mode == Encryption::Off {
        return Err(MseError::NotAllowed);
    }
    let keys = KeyPair::new();
    let mut input = Input::new(&mut io, already);
    input.need(KEY_LEN).await?;
    let s = keys.shared(input.take(KEY_LEN))?;
    let mut first = keys.public.to_vec();
    first.extend_from_slice(&random_pad());
    input.io.write_all(&first).await?;

    input.sync(&hash(&[b"req1", &s]), REQ1_WINDOW).await?;
    input.need(20).await?;
    let r3 = hash(&[b"req3", &s]);
    let mut wanted = [0u8; 20];
    for (w, (a, b)) in wanted.iter_mut().zip(input.take(20).iter().zip(r3.iter())) {
        *w = a ^ b;
    }
    let skey = find(&wanted).ok_or(MseError::UnknownTorrent)?;
    let mut dec = cipher(b"keyA", &s, &skey);
    let mut enc = cipher(b"keyB", &s, &skey);

    let fixed = input.take_decrypted(14, &mut dec).await?;
    if fixed[..8] != VC {
        return Err(MseError::Protocol("a wrong verification constant"));
    }
    let offered = u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
    let pad_c = u16::from_be_bytes([fixed[12], fixed[13]]) as usize;
    if pad_c > MAX_PAD {
        return Err(MseError::Protocol("PadC longer than 512 bytes"));
    }
    input.take_decrypted(pad_c, &mut dec).await?;
    let l = input.take_decrypted(2, &mut dec).await?;
    let ia_len = u16::from_be_bytes([l[0], l[1]]) as usize;
    if ia_len > MAX_IA {
        return Err(MseError::Protocol("an initial payload over its bound"));
    }
    let ia = input.take_decrypted(ia_len, &mut dec).await?.to_vec();
    let chosen = select(mode, offered)?;

    let pad_d = rand::thread_rng().gen_range(0..=MAX_PAD);
    let mut answer = Vec::with_capacity(14 + pad_d);
    answer.extend_from_slice(&VC);
    answer.extend_from_slice(&chosen.to_be_bytes());
    answer.extend_from_slice(&(pad_d as u16).to_be_bytes());
    answer.resize(14 + pad_d, 0);
    enc.apply_keystream(&mut answer);
    input.io.write_all(&answer).await?;

    let mut rest = input.rest();
    let (crypto, read, write) = if chosen == CRYPTO_RC4 {
        dec.apply_keystream(&mut rest);
        (Crypto::Rc4, Some(dec), Some(enc))
    } else {
        (Crypto::HeaderOnly, None, None)
    };
    let mut prefix = ia;
    prefix.extend_from_slice(&rest);
    Ok((MseStream::new(io, prefix, read, write), skey, crypto))
}

#[cfg(test)]
pub(super) fn select_for_tests(mode: Encryption, offered: u32) -> Result<u32, MseError> {
    select(mode, offered)
}

/// An initiator driven by hand, for the fuzz target: it sends Ya, and
/// after Yb the two hashes and `plaintext` encrypted with keyA, so that
/// fuzzed bytes reach the responder's decrypted fields.
pub(crate) struct ScriptedInitiator {
    keys: KeyPair,
}

impl ScriptedInitiator {
    /// A fresh key pair, and Ya to send.
    pub(crate) fn new() -> (Self, [u8; KEY_LEN]) {
        let keys = KeyPair::new();
        let ya = keys.public;
        (ScriptedInitiator { keys }, ya)
    }

    /// What follows Yb: HASH('req1', S), the obfuscated torrent and
    /// `plaintext` encrypted.
    pub(crate) fn message(
        &self,
        yb: &[u8],
        skey: &InfoHash,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, MseError> {
        let s = self.keys.shared(yb)?;
        let mut msg = hash(&[b"req1", &s]).to_vec();
        let (r2, r3) = (req2(skey), hash(&[b"req3", &s]));
        msg.extend(r2.iter().zip(r3.iter()).map(|(a, b)| a ^ b));
        let mut rest = plaintext.to_vec();
        cipher(b"keyA", &s, skey).apply_keystream(&mut rest);
        msg.extend_from_slice(&rest);
        Ok(msg)
    }
}
