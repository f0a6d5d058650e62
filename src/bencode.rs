//! The parts of bencode that `serde_bencode` does not do for us: a strict
//! scanning pre-pass that enforces the depth limit and rejects malformed or
//! truncated input before any decoder allocates for it, the exact byte span of
//! a value inside a dictionary (the info hash is the SHA-1 of the `info`
//! value's bytes as they stand in the file), and a small writer for
//! hand-assembled output with raw embedded values.
//!
//! The scanner never allocates and recurses at most [`MAX_DEPTH`] levels.

use std::ops::Range;

/// Deepest nesting of lists and dictionaries we accept. Real torrents need
/// four or five levels; the limit keeps recursive decoders off the stack's edge.
pub const MAX_DEPTH: usize = 64;

/// Why a byte string is not acceptable bencode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BencodeError {
    /// The input ended inside a value.
    #[error("bencode is truncated: the data ends at byte {0} inside a value")]
    Truncated(usize),
    /// Lists and dictionaries nest deeper than [`MAX_DEPTH`].
    #[error("bencode nests lists and dictionaries deeper than {max} levels")]
    TooDeep {
        /// The limit that was exceeded.
        max: usize,
    },
    /// A byte that cannot start a value.
    #[error("bencode has unexpected byte {byte:#04x} at offset {offset}")]
    UnexpectedByte {
        /// Where the byte is.
        offset: usize,
        /// The byte itself.
        byte: u8,
    },
    /// An integer with no digits, a non-digit, or `-0`.
    #[error("bencode has a malformed integer at offset {0}")]
    BadInteger(usize),
    /// An integer that does not fit in a signed 64-bit number.
    #[error("bencode integer at offset {0} does not fit in 64 bits")]
    IntegerOverflow(usize),
    /// A string length prefix that is malformed or runs past the end.
    #[error(
        "bencode string at offset {0} has a malformed length or runs past the end of the data"
    )]
    BadStringLength(usize),
    /// A dictionary key that is not a byte string.
    #[error("bencode dictionary key at offset {0} is not a string")]
    NonStringKey(usize),
    /// The top-level value is not a dictionary.
    #[error("bencode value is not a dictionary")]
    NotADict,
    /// The same key appears twice in one dictionary where that matters.
    #[error("bencode dictionary has the key {0:?} twice")]
    DuplicateKey(String),
    /// Bytes follow the value where none may.
    #[error("bencode value is followed by {0} bytes of trailing data")]
    TrailingData(usize),
}

/// Scans one complete value starting at `start` and returns the offset just
/// past it. Checks syntax, integer range and nesting depth.
pub fn scan(buf: &[u8], start: usize) -> Result<usize, BencodeError> {
    scan_value(buf, start, 0)
}

/// Checks that `buf` is exactly one well-formed value, nothing after it.
pub fn validate_exact(buf: &[u8]) -> Result<(), BencodeError> {
    let end = scan(buf, 0)?;
    if end != buf.len() {
        return Err(BencodeError::TrailingData(buf.len() - end));
    }
    Ok(())
}

/// The byte span of the value stored under `key` in the dictionary that
/// starts at offset 0 of `buf`, or `None` when the key is absent. The whole
/// dictionary is scanned (so it is known to be well formed); a key present
/// twice is an error, since two `info` values would make the hash ambiguous.
pub fn dict_value_span(buf: &[u8], key: &[u8]) -> Result<Option<Range<usize>>, BencodeError> {
    if buf.first() != Some(&b'd') {
        return Err(BencodeError::NotADict);
    }
    let mut pos = 1;
    let mut found = None;
    loop {
        match buf.get(pos) {
            None => return Err(BencodeError::Truncated(pos)),
            Some(b'e') => return Ok(found),
            Some(b'0'..=b'9') => {}
            Some(_) => return Err(BencodeError::NonStringKey(pos)),
        }
        let (k, after_key) = read_string(buf, pos)?;
        let value_end = scan_value(buf, after_key, 1)?;
        if k == key {
            if found.is_some() {
                return Err(BencodeError::DuplicateKey(
                    String::from_utf8_lossy(key).into_owned(),
                ));
            }
            found = Some(after_key..value_end);
        }
        pos = value_end;
    }
}

fn scan_value(buf: &[u8], pos: usize, depth: usize) -> Result<usize, BencodeError> {
    match buf.get(pos) {
        None => Err(BencodeError::Truncated(pos)),
        Some(b'i') => scan_int(buf, pos),
        Some(b'0'..=b'9') => read_string(buf, pos).map(|(_, end)| end),
        Some(b'l') => {
            if depth >= MAX_DEPTH {
                return Err(BencodeError::TooDeep { max: MAX_DEPTH });
            }
            let mut p = pos + 1;
            loop {
                match buf.get(p) {
                    None => return Err(BencodeError::Truncated(p)),
                    Some(b'e') => return Ok(p + 1),
                    Some(_) => p = scan_value(buf, p, depth + 1)?,
                }
            }
        }
        Some(b'd') => {
            if depth >= MAX_DEPTH {
                return Err(BencodeError::TooDeep { max: MAX_DEPTH });
            }
            let mut p = pos + 1;
            loop {
                match buf.get(p) {
                    None => return Err(BencodeError::Truncated(p)),
                    Some(b'e') => return Ok(p + 1),
                    Some(b'0'..=b'9') => {
                        let (_, after_key) = read_string(buf, p)?;
                        p = scan_value(buf, after_key, depth + 1)?;
                    }
                    Some(_) => return Err(BencodeError::NonStringKey(p)),
                }
            }
        }
        Some(&byte) => Err(BencodeError::UnexpectedByte { offset: pos, byte }),
    }
}

/// `i<digits>e`: optional minus, at least one digit, no `-0`, fits in i64.
fn scan_int(buf: &[u8], pos: usize) -> Result<usize, BencodeError> {
    let mut p = pos + 1;
    let negative = buf.get(p) == Some(&b'-');
    if negative {
        p += 1;
    }
    let digits_start = p;
    // Accumulate as a negative number so i64::MIN fits.
    let mut value: i64 = 0;
    loop {
        match buf.get(p) {
            None => return Err(BencodeError::Truncated(p)),
            Some(b'e') => break,
            Some(&c @ b'0'..=b'9') => {
                value = value
                    .checked_mul(10)
                    .and_then(|v| v.checked_sub((c - b'0') as i64))
                    .ok_or(BencodeError::IntegerOverflow(pos))?;
                p += 1;
            }
            Some(_) => return Err(BencodeError::BadInteger(pos)),
        }
    }
    if p == digits_start || (negative && value == 0) {
        return Err(BencodeError::BadInteger(pos));
    }
    if !negative && value == i64::MIN {
        return Err(BencodeError::IntegerOverflow(pos));
    }
    Ok(p + 1)
}

/// `<len>:<bytes>`: returns the bytes and the offset after them.
fn read_string(buf: &[u8], pos: usize) -> Result<(&[u8], usize), BencodeError> {
    let mut p = pos;
    let mut len: usize = 0;
    loop {
        match buf.get(p) {
            None => return Err(BencodeError::Truncated(p)),
            Some(b':') => break,
            Some(&c @ b'0'..=b'9') => {
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add((c - b'0') as usize))
                    .ok_or(BencodeError::BadStringLength(pos))?;
                p += 1;
            }
            Some(_) => return Err(BencodeError::BadStringLength(pos)),
        }
    }
    if p == pos {
        return Err(BencodeError::BadStringLength(pos));
    }
    let start = p + 1;
    let end = start
        .checked_add(len)
        .ok_or(BencodeError::BadStringLength(pos))?;
    if end > buf.len() {
        return Err(BencodeError::Truncated(buf.len()));
    }
    Ok((&buf[start..end], end))
}

/// A minimal bencode writer. Callers emit dictionary keys in sorted order
/// themselves; `raw` embeds an already-encoded value verbatim (the `info`
/// dictionary, whose bytes must not change).
#[derive(Debug, Default)]
pub struct Writer {
    /// The encoded output so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b.len().to_string().as_bytes());
        self.buf.push(b':');
        self.buf.extend_from_slice(b);
        self
    }

    /// An integer.
    pub fn int(&mut self, i: i64) -> &mut Self {
        self.buf.push(b'i');
        self.buf.extend_from_slice(i.to_string().as_bytes());
        self.buf.push(b'e');
        self
    }

    /// Opens a list.
    pub fn list(&mut self) -> &mut Self {
        self.buf.push(b'l');
        self
    }

    /// Opens a dictionary.
    pub fn dict(&mut self) -> &mut Self {
        self.buf.push(b'd');
        self
    }

    /// Closes the innermost list or dictionary.
    pub fn end(&mut self) -> &mut Self {
        self.buf.push(b'e');
        self
    }

    /// An already-encoded value, verbatim.
    pub fn raw(&mut self, encoded: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(encoded);
        self
    }

    /// The finished bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_well_formed_values() {
        assert_eq!(scan(b"i42e", 0), Ok(4));
        assert_eq!(scan(b"i-42e", 0), Ok(5));
        assert_eq!(scan(b"i0e", 0), Ok(3));
        assert_eq!(scan(b"4:spam", 0), Ok(6));
        assert_eq!(scan(b"0:", 0), Ok(2));
        assert_eq!(scan(b"l4:spami7ee", 0), Ok(11));
        assert_eq!(scan(b"d3:cow3:moo4:spaml1:a1:bee", 0), Ok(26));
        assert_eq!(scan(b"i9223372036854775807e", 0), Ok(21));
        assert_eq!(scan(b"i-9223372036854775808e", 0), Ok(22));
        assert_eq!(validate_exact(b"de"), Ok(()));
    }

    #[test]
    fn rejects_malformed_values() {
        assert_eq!(scan(b"i42", 0), Err(BencodeError::Truncated(3)));
        assert_eq!(scan(b"ie", 0), Err(BencodeError::BadInteger(0)));
        assert_eq!(scan(b"i-0e", 0), Err(BencodeError::BadInteger(0)));
        assert_eq!(scan(b"i4x2e", 0), Err(BencodeError::BadInteger(0)));
        assert_eq!(
            scan(b"i9223372036854775808e", 0),
            Err(BencodeError::IntegerOverflow(0))
        );
        assert_eq!(
            scan(b"i99999999999999999999999e", 0),
            Err(BencodeError::IntegerOverflow(0))
        );
        assert_eq!(scan(b"5:spam", 0), Err(BencodeError::Truncated(6)));
        assert_eq!(
            scan(b"99999999999999999999999:x", 0),
            Err(BencodeError::BadStringLength(0))
        );
        assert_eq!(scan(b"4spam", 0), Err(BencodeError::BadStringLength(0)));
        assert_eq!(scan(b"l4:spam", 0), Err(BencodeError::Truncated(7)));
        assert_eq!(scan(b"di1e1:xe", 0), Err(BencodeError::NonStringKey(1)));
        assert_eq!(
            scan(b"x", 0),
            Err(BencodeError::UnexpectedByte {
                offset: 0,
                byte: b'x'
            })
        );
        assert_eq!(scan(b"", 0), Err(BencodeError::Truncated(0)));
        assert_eq!(validate_exact(b"dexx"), Err(BencodeError::TrailingData(2)));
    }

    #[test]
    fn depth_limit() {
        let ok = format!("{}{}", "l".repeat(MAX_DEPTH), "e".repeat(MAX_DEPTH));
        assert!(scan(ok.as_bytes(), 0).is_ok());
        let deep = format!("{}{}", "l".repeat(MAX_DEPTH + 1), "e".repeat(MAX_DEPTH + 1));
        assert_eq!(
            scan(deep.as_bytes(), 0),
            Err(BencodeError::TooDeep { max: MAX_DEPTH })
        );
        // A huge nesting is refused without exhausting the stack.
        let huge = "l".repeat(1_000_000);
        assert_eq!(
            scan(huge.as_bytes(), 0),
            Err(BencodeError::TooDeep { max: MAX_DEPTH })
        );
    }

    #[test]
    fn finds_value_span_in_unsorted_dict() {
        let buf = b"d4:infod1:zi1e1:ai2ee8:announce3:urle";
        let span = dict_value_span(buf, b"info").unwrap().unwrap();
        assert_eq!(&buf[span], b"d1:zi1e1:ai2ee");
        assert_eq!(dict_value_span(buf, b"nope").unwrap(), None);
        assert_eq!(
            dict_value_span(b"li1ee", b"info"),
            Err(BencodeError::NotADict)
        );
        assert_eq!(
            dict_value_span(b"d4:infode4:infodee", b"info"),
            Err(BencodeError::DuplicateKey("info".into()))
        );
    }

    #[test]
    fn writer_output() {
        let mut w = Writer::new();
        w.dict()
            .bytes(b"a")
            .int(-3)
            .bytes(b"b")
            .list()
            .bytes(b"xy")
            .end();
        w.bytes(b"c").raw(b"de").end();
        assert_eq!(w.finish(), b"d1:ai-3e1:bl2:xye1:cdee");
    }
}
