//! The routing table kept across runs: a small text file of node addresses
//! in the state folder, written atomically at shutdown and every
//! [`SAVE_INTERVAL`](super::keeper::SAVE_INTERVAL), read at start so that the
//! next run joins through nodes it knew (extra bootstrap nodes), which
//! matters most when the bootstrap routers cannot be reached or resolved.
//!
//! The file is ours but lives on the user's disk, so it is read with limits:
//! at most [`MAX_NODES_FILE_BYTES`] bytes and [`MAX_SAVED_NODES`] addresses.
//! A file that breaks them, or holds a line that is not `IPV4:PORT`, is
//! refused whole with an error saying why; the caller logs it and starts as
//! if there were no file (the next save replaces it).

use std::io::Read;
use std::net::SocketAddrV4;
use std::path::Path;

/// The file's name in the session's state folder.
pub const NODES_FILE: &str = "dht-nodes.txt";

/// Most node addresses written to (and accepted from) the file: a full
/// routing table of the public DHT holds a few hundred nodes, and a few
/// dozen live ones are plenty to join again.
pub const MAX_SAVED_NODES: usize = 200;

/// Largest file accepted: [`MAX_SAVED_NODES`] lines of at most 21 bytes
/// (`255.255.255.255:65535` and a newline, 22) plus the header, rounded up.
pub const MAX_NODES_FILE_BYTES: u64 = 8 * 1024;

/// The first line of the file, naming what it is.
const HEADER: &str = "# shoal DHT nodes: IPV4:PORT per line";

/// Why a nodes file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SavedNodesError {
    /// The file could not be read (other than "not found", which is no
    /// error: there is simply nothing saved yet).
    #[error("cannot read the saved DHT nodes {path}: {source}")]
    Read {
        /// The file, for the message.
        path: String,
        /// The OS's reason.
        source: std::io::Error,
    },
    /// Larger than [`MAX_NODES_FILE_BYTES`].
    #[error(
        "the saved DHT nodes file {path} is {len} bytes, more than the {max} accepted; ignored"
    )]
    TooLarge {
        /// The file, for the message.
        path: String,
        /// Its length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// More than [`MAX_SAVED_NODES`] addresses.
    #[error("the saved DHT nodes file {path} holds more than {max} nodes; ignored")]
    TooMany {
        /// The file, for the message.
        path: String,
        /// The limit.
        max: usize,
    },
    /// A line that is not an IPv4 address with a port from 1 to 65535.
    #[error("the saved DHT nodes file {path} is corrupt (line {line}: {text:?} is not IPV4:PORT); ignored")]
    Corrupt {
        /// The file, for the message.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The line, cut to 40 bytes.
        text: String,
    },
}

/// Reads the saved nodes. A missing file is an empty list.
pub fn load(path: &Path) -> Result<Vec<SocketAddrV4>, SavedNodesError> {
    let shown = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(SavedNodesError::Read {
                path: shown,
                source,
            })
        }
    };
    let read_error = |source| SavedNodesError::Read {
        path: shown.clone(),
        source,
    };
    let len = file.metadata().map_err(read_error)?.len();
    if len > MAX_NODES_FILE_BYTES {
        return Err(SavedNodesError::TooLarge {
            path: shown,
            len,
            max: MAX_NODES_FILE_BYTES,
        });
    }
    // Read one byte more than allowed: the file may grow after the check.
    let mut bytes = Vec::new();
    file.take(MAX_NODES_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_NODES_FILE_BYTES {
        return Err(SavedNodesError::TooLarge {
            path: shown,
            len: bytes.len() as u64,
            max: MAX_NODES_FILE_BYTES,
        });
    }
    parse(&bytes, &shown)
}

/// Parses the file's content (`shown` names it in errors).
fn parse(bytes: &[u8], shown: &str) -> Result<Vec<SocketAddrV4>, SavedNodesError> {
    let text = String::from_utf8_lossy(bytes);
    let mut nodes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.parse::<SocketAddrV4>() {
            Ok(addr) if addr.port() != 0 && !addr.ip().is_unspecified() => nodes.push(addr),
            _ => {
                return Err(SavedNodesError::Corrupt {
                    path: shown.to_string(),
                    line: i + 1,
                    text: line.chars().take(40).collect(),
                })
            }
        }
        if nodes.len() > MAX_SAVED_NODES {
            return Err(SavedNodesError::TooMany {
                path: shown.to_string(),
                max: MAX_SAVED_NODES,
            });
        }
    }
    nodes.sort();
    nodes.dedup();
    Ok(nodes)
}

/// Writes at most [`MAX_SAVED_NODES`] of `nodes` atomically (a crash leaves
/// the old file or the new one). Returns how many were written.
pub fn save(path: &Path, nodes: &[SocketAddrV4]) -> std::io::Result<usize> {
    let mut text = String::from(HEADER);
    text.push('\n');
    let mut count = 0;
    for node in nodes.iter().take(MAX_SAVED_NODES) {
        text.push_str(&node.to_string());
        text.push('\n');
        count += 1;
    }
    crate::resume::write_atomic(path, text.as_bytes())?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_nodes_round_trip_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(NODES_FILE);
        assert!(load(&path).unwrap().is_empty(), "no file, no nodes");
        let many: Vec<SocketAddrV4> = (1..=500u16)
            .map(|p| SocketAddrV4::new([10, 0, 0, 1].into(), p))
            .collect();
        assert_eq!(save(&path, &many).unwrap(), MAX_SAVED_NODES);
        assert!(std::fs::metadata(&path).unwrap().len() <= MAX_NODES_FILE_BYTES);
        assert_eq!(load(&path).unwrap(), many[..MAX_SAVED_NODES].to_vec());
    }

    #[test]
    fn bad_lines_and_too_many_nodes_are_refused() {
        for (text, want) in [
            ("1.2.3.4:5\nnot an address\n", "line 2"),
            ("1.2.3.4:0\n", "line 1"),
            ("[::1]:5\n", "line 1"),
            ("0.0.0.0:5\n", "line 1"),
        ] {
            let err = parse(text.as_bytes(), "f").unwrap_err();
            assert!(matches!(err, SavedNodesError::Corrupt { .. }), "{text:?}");
            assert!(err.to_string().contains(want), "{err}");
        }
        let lines: String = (1..=MAX_SAVED_NODES + 1)
            .map(|p| format!("1.2.3.4:{p}\n"))
            .collect();
        assert!(matches!(
            parse(lines.as_bytes(), "f"),
            Err(SavedNodesError::TooMany { .. })
        ));
        let ok = parse(b"# c\n\n1.2.3.4:5\n1.2.3.4:5\n", "f").unwrap();
        assert_eq!(ok, vec!["1.2.3.4:5".parse().unwrap()]);
    }
}
