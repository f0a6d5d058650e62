//! The window's TypeScript types, generated from the DTOs in `dto.rs` with
//! `ts-rs`, so the contract between engine and window is written once.
//! `ui/src/lib/bindings.ts` is the generated file, checked in so the UI
//! builds without Rust; the test `bindings_are_current` fails when it is
//! stale, and rewrites it when run with `SHOAL_WRITE_BINDINGS=1`
//! (`make bindings`).

use ts_rs::{Config, TS};

use crate::dto::*;

/// Where the generated file lives, from the package's folder.
pub const BINDINGS_PATH: &str = "../ui/src/lib/bindings.ts";

/// Adds one type's declaration, with its doc comment, to `out`.
fn push<T: TS>(out: &mut String, cfg: &Config) {
    out.push('\n');
    if let Some(docs) = T::docs() {
        out.push_str(&docs);
    }
    out.push_str("export ");
    out.push_str(&T::decl(cfg));
    out.push('\n');
}

/// The whole generated file.
pub fn typescript() -> String {
    // JSON numbers: every u64 the app sends (bytes, seconds) stays far
    // below 2^53.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from src-tauri/src/dto.rs by ts-rs (src-tauri/src/bindings.rs).\n\
         // Do not edit: change the Rust types and run `make bindings`.\n",
    );
    push::<AppInfo>(&mut out, &cfg);
    push::<SessionUpdate>(&mut out, &cfg);
    push::<TorrentState>(&mut out, &cfg);
    push::<TorrentRow>(&mut out, &cfg);
    push::<Cause>(&mut out, &cfg);
    push::<Diagnosis>(&mut out, &cfg);
    push::<GlobalStats>(&mut out, &cfg);
    push::<TorrentDetail>(&mut out, &cfg);
    push::<Overview>(&mut out, &cfg);
    push::<PieceMap>(&mut out, &cfg);
    push::<PeerSource>(&mut out, &cfg);
    push::<PeerRow>(&mut out, &cfg);
    push::<WebSeedRow>(&mut out, &cfg);
    push::<Priority>(&mut out, &cfg);
    push::<FileRow>(&mut out, &cfg);
    push::<TrackerStatus>(&mut out, &cfg);
    push::<TrackerRow>(&mut out, &cfg);
    push::<DhtPanel>(&mut out, &cfg);
    push::<DhtBucketRow>(&mut out, &cfg);
    push::<DhtNodeRow>(&mut out, &cfg);
    push::<CreateProgress>(&mut out, &cfg);
    push::<Created>(&mut out, &cfg);
    push::<CreateRequest>(&mut out, &cfg);
    push::<TorrentPreview>(&mut out, &cfg);
    push::<AddOptions>(&mut out, &cfg);
    push::<SettingsDto>(&mut out, &cfg);
    push::<Startup>(&mut out, &cfg);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn bindings_are_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(BINDINGS_PATH);
        let want = typescript();
        if std::env::var("SHOAL_WRITE_BINDINGS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &want).expect("write the bindings");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: the DTOs in src-tauri/src/dto.rs changed. Run `make bindings` \
             (SHOAL_WRITE_BINDINGS=1 cargo test -p shoal-desktop --lib bindings) and commit it.",
            path.display()
        );
    }
}
