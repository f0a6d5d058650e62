//! Decoding the bencoded dictionaries of extension payloads.
//!
//! Two needs meet here: a ut_metadata data message is a dictionary followed
//! by raw bytes, so we must know where the dictionary ends; and
//! `serde_bencode` recurses once per nesting level, so a peer sending
//! `llll...` could exhaust the stack. Every payload is first scanned by
//! [`crate::bencode::scan`] (well formed, depth bounded); only a value that
//! passes is handed to `serde_bencode`.

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
    let len = crate::bencode::scan(buf, 0).map_err(|e| bad(e.to_string()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let deep = [b"d1:a".to_vec(), vec![b'l'; 100_000]].concat();
        assert!(leading_dict(&deep, "test").is_err());
        let ok = [b"d1:a".to_vec(), vec![b'l'; 8], vec![b'e'; 9]].concat();
        assert!(leading_dict(&ok, "test").is_ok());
    }
}
