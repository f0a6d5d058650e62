//! Replays the fuzz corpora on the stable toolchain: every file of
//! `fuzz/corpus/<target>/` goes through the same `shoal::fuzzing` function
//! its libFuzzer target calls (`make fuzz`), so an input that once crashed a
//! parser, and every input that reached new code, is checked on every
//! `make test`.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use shoal::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of one target's corpus, sorted; fails if there is none.
fn corpus(name: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(name);
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("target {name} has no corpus folder {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "target {name}: corpus folder {} is empty",
        dir.display()
    );
    files
}

#[test]
fn every_corpus_file_passes_its_target() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, target) in TARGETS {
        for file in corpus(name) {
            let data = fs::read(&file).expect("read corpus file");
            total += 1;
            if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} corpus files fail (the panics are printed above):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The library's list of targets, the fuzz crate's targets and the corpus
/// folders name the same set, so no target goes unreplayed or unfuzzed.
#[test]
fn targets_corpora_and_fuzz_crate_agree() {
    let mut names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    names.sort();
    let listed = |dir: &Path, strip: &str| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(strip).map(str::to_owned))
            .collect();
        v.sort();
        v
    };
    assert_eq!(listed(&fuzz_dir().join("corpus"), ""), names);
    assert_eq!(listed(&fuzz_dir().join("fuzz_targets"), ".rs"), names);
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for name in &names {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{name}.rs\"")),
            "fuzz/Cargo.toml has no [[bin]] for {name}"
        );
    }
}
