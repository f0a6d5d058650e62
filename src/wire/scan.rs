//! Finds where one bencoded value ends, iteratively and with a depth limit.
//!
//! Two needs of the extension payloads meet here: a ut_metadata data message
//! is a dictionary followed by raw bytes, so we must know where the
//! dictionary ends; and `serde_bencode` recurses once per nesting level, so a
//! peer sending `llll...` could exhaust the stack. Every payload is scanned
//! here first; only a value that passes (well formed, depth <= 64) is handed
//! to `serde_bencode`.

use std::collections::HashMap;

use serde_bencode::value::Value;

use super::WireError;

/// A decoded bencode dictionary.
pub(crate) type Dict = HashMap<Vec<u8>, Value>;

/// Decodes the dictionary at the start of `buf` and returns it with its
/// length in bytes (what follows it is not looked at). `what` names the
/// payload in the error.
pub(crate) fn leading_dict(buf: &[u8], what: &'static str) -> Result<(Dict, usize), WireError> {
    let bad = |reason: String| WireError::Bencode { what, reason };
    let len = value_len(buf).map_err(|r| bad(r.to_string()))?;
    match serde_bencode::from_bytes::<Value>(&buf[..len]) {
        Ok(Value::Dict(dict)) => Ok((dict, len)),
        Ok(_) => Err(bad("not a dictionary".to_string())),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// The integer under `key`, if present and an integer.
pub(crate) fn int(dict: &Dict, key: &str) -> Option<i64> {
    match dict.get(key.as_bytes()) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

/// The byte string under `key`, if present and a string.
pub(crate) fn bytes<'a>(dict: &'a Dict, key: &str) -> Option<&'a [u8]> {
    match dict.get(key.as_bytes()) {
        Some(Value::Bytes(b)) => Some(b),
        _ => None,
    }
}

/// Deepest nesting of lists and dictionaries we accept (DESIGN.md).
pub(crate) const MAX_DEPTH: usize = 64;

/// Returns the length of the bencoded value at the start of `buf`.
///
/// Checks the structure only (integers are digits, string lengths fit, every
/// container is closed, depth <= [`MAX_DEPTH`]); `serde_bencode` checks the
/// rest (dictionary keys are strings, integers fit their type).
pub(crate) fn value_len(buf: &[u8]) -> Result<usize, &'static str> {
    let mut pos = 0usize;
    let mut depth = 0usize;
    loop {
        let Some(&byte) = buf.get(pos) else {
            return Err("truncated value");
        };
        match byte {
            b'i' => {
                let start = pos + 1;
                let end = find(buf, start, b'e').ok_or("unterminated integer")?;
                let digits = &buf[start..end];
                let digits = digits.strip_prefix(b"-").unwrap_or(digits);
                if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit)
                {
                    return Err("malformed integer");
                }
                pos = end + 1;
            }
            b'l' | b'd' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err("nested more than 64 levels deep");
                }
                pos += 1;
                continue;
            }
            b'e' => {
                if depth == 0 {
                    return Err("unexpected end marker");
                }
                depth -= 1;
                pos += 1;
            }
            b'0'..=b'9' => {
                let colon = find(buf, pos, b':').ok_or("unterminated string length")?;
                let digits = &buf[pos..colon];
                if digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
                    return Err("malformed string length");
                }
                // At most 10 ASCII digits: parses into a u64 without overflow.
                let len = digits
                    .iter()
                    .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                let end = (colon as u64 + 1).saturating_add(len);
                if end > buf.len() as u64 {
                    return Err("string runs past the end");
                }
                pos = end as usize;
            }
            _ => return Err("unexpected byte"),
        }
        if depth == 0 {
            return Ok(pos);
        }
    }
}

fn find(buf: &[u8], from: usize, byte: u8) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|i| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_of_each_kind() {
        assert_eq!(value_len(b"i42e"), Ok(4));
        assert_eq!(value_len(b"i-7exyz"), Ok(4));
        assert_eq!(value_len(b"4:spamrest"), Ok(6));
        assert_eq!(value_len(b"0:"), Ok(2));
        assert_eq!(value_len(b"le"), Ok(2));
        assert_eq!(value_len(b"d3:fooi1e3:barl1:aee\xff\x00"), Ok(20));
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            &b""[..],
            b"i",
            b"ie",
            b"i-e",
            b"i1x2e",
            b"5:abc",
            b"99999999999:a",
            b"d3:foo",
            b"e",
            b"x",
            b"l",
            b"3abc",
        ] {
            assert!(value_len(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn leading_dict_stops_at_the_dictionary() {
        let (dict, len) = leading_dict(b"d1:ai1e1:b2:xye\x00\x01", "test").unwrap();
        assert_eq!(len, 15);
        assert_eq!(int(&dict, "a"), Some(1));
        assert_eq!(bytes(&dict, "b"), Some(&b"xy"[..]));
        assert_eq!(int(&dict, "b"), None);
        assert_eq!(bytes(&dict, "c"), None);
        assert!(leading_dict(b"li1ee", "test").is_err());
        assert!(leading_dict(b"d1:ai1e", "test").is_err());
        // Structurally fine, but an integer key: serde_bencode refuses it.
        assert!(leading_dict(b"di1ei2ee", "test").is_err());
    }

    #[test]
    fn depth_is_limited() {
        let ok = [vec![b'l'; 64], vec![b'e'; 64]].concat();
        assert_eq!(value_len(&ok), Ok(128));
        let deep = [vec![b'l'; 65], vec![b'e'; 65]].concat();
        assert!(value_len(&deep).is_err());
        // A hundred thousand levels: refused without recursion.
        assert!(value_len(&vec![b'l'; 100_000]).is_err());
    }
}
