//! Deterministic test content: files of awkward sizes whose bytes are a
//! simple function of a seed, so a downloaded copy can be compared with the
//! original byte for byte.

use std::path::{Path, PathBuf};

/// Writes `len` pseudo-random bytes derived from `seed` to `path`.
pub fn write_file(path: &Path, len: usize, seed: u64) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create dir");
    }
    std::fs::write(path, bytes(len, seed)).expect("write test file");
}

/// `len` pseudo-random bytes from `seed` (xorshift64*).
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A folder `root/name` with several files whose sizes straddle piece
/// boundaries, an empty file and a nested folder. Returns the folder.
pub fn multi_file_folder(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    write_file(&dir.join("a.bin"), 100_000, 1);
    write_file(&dir.join("b/c.bin"), 300_001, 2);
    write_file(&dir.join("b/empty.txt"), 0, 3);
    write_file(&dir.join("d.bin"), 16_383, 4);
    write_file(&dir.join("e/f/g.bin"), 777_777, 5);
    dir
}

/// Asserts two folders hold the same files with the same bytes.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let fa = list(a);
    let fb = list(b);
    assert_eq!(
        fa,
        fb,
        "file lists differ between {} and {}",
        a.display(),
        b.display()
    );
    for rel in fa {
        let x = std::fs::read(a.join(&rel)).expect("read original");
        let y = std::fs::read(b.join(&rel)).expect("read copy");
        assert!(x == y, "{} differs", rel.display());
    }
}

/// Whether two folders hold the same files with the same bytes.
pub fn same_tree(a: &Path, b: &Path) -> bool {
    let fa = list(a);
    if fa != list(b) {
        return false;
    }
    fa.iter().all(
        |rel| match (std::fs::read(a.join(rel)), std::fs::read(b.join(rel))) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        },
    )
}

/// Whether `copy` holds every non-empty file of `original` with the same
/// bytes and no other non-empty file. Other clients differ on zero-length
/// files (Transmission 3.00 creates none), so those are left out.
pub fn same_content(original: &Path, copy: &Path) -> bool {
    let non_empty = |dir: &Path| -> Vec<PathBuf> {
        list(dir)
            .into_iter()
            .filter(|rel| {
                std::fs::metadata(dir.join(rel))
                    .map(|m| m.len() > 0)
                    .unwrap_or(false)
            })
            .collect()
    };
    let files = non_empty(original);
    if files != non_empty(copy) {
        return false;
    }
    files.iter().all(|rel| {
        match (
            std::fs::read(original.join(rel)),
            std::fs::read(copy.join(rel)),
        ) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    })
}

/// Relative paths of the regular files under `dir`, sorted.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if let Ok(rel) = p.strip_prefix(base) {
                out.push(rel.to_path_buf());
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A torrent of `content` with pieces of `piece_length` bytes.
pub fn torrent_of(content: &Path, piece_length: u64) -> shoal::Metainfo {
    let opts = shoal::create::CreateOptions {
        piece_length: Some(piece_length),
        ..Default::default()
    };
    shoal::create::create_torrent(content, &opts, |_, _| {}).expect("create torrent")
}
