//! Naming the remote client: from the `v` key of its extension handshake
//! when it sent one, otherwise from the conventions of its peer id (BEP 20
//! and the older styles still in the wild).
//!
//! Styles recognised:
//! - Azureus style, `-XXvvvv-`: two letters for the client, four characters
//!   of version (`-qB4650-` is qBittorrent 4.6.5, `-TR3000-` Transmission
//!   3.00, `-lt0D80-` rakshasa's libTorrent 0.13.8). Version characters are
//!   `0-9`, then `A-Z` for 10-35 and `a-z` for 36-61.
//! - Mainline style, `M7-2-1--`: a letter and dash-separated numbers.
//! - aria2, `A2-1-36-0-`.
//! - Shad0w style, `S58B-----`: a letter, up to five version characters, then
//!   dashes (BitTornado's `T03I---`).
//! - BitComet's old `exbc` followed by two version bytes.
//!
//! Anything else is shown as its printable prefix, or in hex.

use crate::types::PeerId;

/// Longest `v` string shown, in characters.
const MAX_NAME_LEN: usize = 64;

/// How a client encodes its version in an Azureus-style peer id.
#[derive(Clone, Copy)]
enum Style {
    /// `a.b.c` from characters 3, 4, 5 (the fourth is a build or tag).
    Three,
    /// `a.b.c.d` from characters 3 to 6.
    Four,
    /// `a.bb`: two characters of major, two of minor, zero-padded.
    TwoTwo,
    /// µTorrent and BitTorrent: hex digits, a release letter.
    Utorrent,
    /// Transmission: `-TR294Z-` is 2.94+, `-TR4060-` is 4.0.6.
    Transmission,
    /// No version in the id.
    NoVersion,
}

/// Azureus-style client codes, sorted by code.
const AZUREUS_CLIENTS: &[(&[u8; 2], &str, Style)] = &[
    (b"AG", "Ares", Style::Four),
    (b"AZ", "Azureus/Vuze", Style::Four),
    (b"BC", "BitComet", Style::TwoTwo),
    (b"BI", "BiglyBT", Style::Four),
    (b"BT", "BitTorrent", Style::Utorrent),
    (b"DE", "Deluge", Style::Three),
    (b"FD", "Free Download Manager", Style::Three),
    (b"FW", "FrostWire", Style::Three),
    (b"HL", "Halite", Style::Three),
    (b"KG", "KGet", Style::Four),
    (b"KT", "KTorrent", Style::Three),
    (b"LT", "libtorrent (Rasterbar)", Style::Three),
    (b"MO", "MonoTorrent", Style::Four),
    (b"PI", "PicoTorrent", Style::Three),
    (b"SD", "Thunder", Style::Four),
    (b"SH", "Shoal", Style::Three),
    (b"SZ", "Shareaza", Style::Four),
    (b"TR", "Transmission", Style::Transmission),
    (b"UE", "µTorrent Embedded", Style::Utorrent),
    (b"UM", "µTorrent Mac", Style::Utorrent),
    (b"UT", "µTorrent", Style::Utorrent),
    (b"UW", "µTorrent Web", Style::Utorrent),
    (b"WS", "HTTP Seed", Style::NoVersion),
    (b"WW", "WebTorrent", Style::Four),
    (b"XL", "Xunlei", Style::Four),
    (b"lt", "libTorrent (rakshasa)", Style::Three),
    (b"qB", "qBittorrent", Style::Three),
];

/// Shad0w-style client letters.
const SHADOW_CLIENTS: &[(u8, &str)] = &[
    (b'A', "ABC"),
    (b'O', "Osprey"),
    (b'Q', "BTQueue"),
    (b'R', "Tribler"),
    (b'S', "Shad0w"),
    (b'T', "BitTornado"),
    (b'U', "UPnP NAT Bit Torrent"),
];

/// A readable name for the client behind `peer_id`, preferring `v` (the
/// extension handshake's client name) when it is present and not blank.
///
/// Never fails: an id no convention explains is shown as `Unknown` followed
/// by its printable first 8 bytes, or their hex.
pub fn client_name(peer_id: &PeerId, v: Option<&str>) -> String {
    if let Some(v) = v {
        let clean: String = v
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME_LEN)
            .collect();
        if !clean.is_empty() {
            return clean;
        }
    }
    let id = &peer_id.0;
    azureus(id)
        .or_else(|| mainline(id))
        .or_else(|| aria2(id))
        .or_else(|| shadow(id))
        .or_else(|| bitcomet(id))
        .unwrap_or_else(|| unknown(id))
}

/// The value of a version character: `0-9`, `A-Z` (10-35), `a-z` (36-61).
fn version_char(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 36),
        _ => None,
    }
}

fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn dotted(parts: &[u32]) -> String {
    parts
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// A release letter after the version: beta, debug or a development build.
fn release_suffix(c: u8) -> &'static str {
    match c {
        b'B' | b'b' => " (beta)",
        b'd' => " (debug)",
        b'X' | b'x' | b'Z' => " (dev)",
        _ => "",
    }
}

fn azureus(id: &[u8; 20]) -> Option<String> {
    if id[0] != b'-' {
        return None;
    }
    let code: [u8; 2] = [id[1], id[2]];
    let (_, name, style) = AZUREUS_CLIENTS.iter().find(|(c, _, _)| **c == code)?;
    // µTorrent puts a version digit where the closing dash would be.
    if id[7] != b'-' && !matches!(style, Style::Utorrent) {
        return None;
    }
    let v = |i: usize| version_char(id[i]);
    let version = match style {
        Style::Three => Some(dotted(&[v(3)?, v(4)?, v(5)?])),
        Style::Four => Some(dotted(&[v(3)?, v(4)?, v(5)?, v(6)?])),
        Style::TwoTwo => Some(format!(
            "{}.{:02}",
            decimal(&id[3..5])?,
            decimal(&id[5..7])?
        )),
        Style::Utorrent => utorrent_version(id),
        Style::Transmission => transmission_version(id),
        Style::NoVersion => None,
    };
    Some(match version {
        Some(version) => format!("{name} {version}"),
        None => name.to_string(),
    })
}

/// `-UT355B-` is 3.5.5 beta (hex digits); `-UT3550X` puts a two-digit
/// last number where the dash would be.
fn utorrent_version(id: &[u8; 20]) -> Option<String> {
    let hex = |c: u8| char::from(c).to_digit(16);
    let (major, minor) = (hex(id[3])?, hex(id[4])?);
    Some(if id[7] == b'-' {
        format!("{major}.{minor}.{}{}", hex(id[5])?, release_suffix(id[6]))
    } else {
        format!(
            "{major}.{minor}.{}{}",
            decimal(&id[5..7])?,
            release_suffix(id[7])
        )
    })
}

/// Transmission changed styles three times: `-TR0006-` is 0.6, `-TR0072-`
/// 0.72, `-TR294Z-` 2.94+ (two-digit minor until 3.00), and from 4.0 on
/// `-TR4060-` is 4.0.6. A trailing `Z` or `X` marks a build after that
/// release, `B` a beta.
fn transmission_version(id: &[u8; 20]) -> Option<String> {
    let d = |i: usize| char::from(id[i]).to_digit(10);
    let tag = match id[6] {
        b'Z' | b'X' => "+",
        b'B' => " (beta)",
        _ => "",
    };
    if &id[3..6] == b"000" {
        return Some(format!("0.{}", d(6)?));
    }
    if &id[3..5] == b"00" {
        return Some(format!("0.{:02}", decimal(&id[5..7])?));
    }
    let major = d(3)?;
    if major <= 3 {
        Some(format!("{major}.{:02}{tag}", decimal(&id[4..6])?))
    } else {
        Some(format!(
            "{major}.{}.{}{tag}",
            version_char(id[4])?,
            version_char(id[5])?
        ))
    }
}

/// `count` decimal numbers starting at `id[start]`, each followed by a
/// dash: `2-1-` or `1-36-0-`.
fn dashed_numbers(id: &[u8; 20], start: usize, count: usize) -> Option<Vec<u32>> {
    let mut parts = Vec::new();
    let mut rest = &id[start..];
    while parts.len() < count {
        let dash = rest.iter().position(|&b| b == b'-')?;
        parts.push(decimal(&rest[..dash])?);
        rest = &rest[dash + 1..];
    }
    Some(parts)
}

/// Mainline (`M7-2-1--`) and Queen Bee (`Q1-0-0--`).
fn mainline(id: &[u8; 20]) -> Option<String> {
    let name = match id[0] {
        b'M' => "BitTorrent",
        b'Q' => "Queen Bee",
        _ => return None,
    };
    // The major number is the character right after the letter.
    if !id[1].is_ascii_digit() || id[2] != b'-' {
        return None;
    }
    let rest = dashed_numbers(id, 3, 2)?;
    Some(format!(
        "{name} {}",
        dotted(&[u32::from(id[1] - b'0'), rest[0], rest[1]])
    ))
}

/// aria2: `A2-1-36-0-`.
fn aria2(id: &[u8; 20]) -> Option<String> {
    if !id.starts_with(b"A2-") {
        return None;
    }
    Some(match dashed_numbers(id, 3, 3) {
        Some(parts) => format!("aria2 {}", dotted(&parts)),
        None => "aria2".to_string(),
    })
}

/// Shad0w style: a client letter, up to five version characters padded
/// with dashes, and `---` at bytes 6 to 8.
fn shadow(id: &[u8; 20]) -> Option<String> {
    if &id[6..9] != b"---" {
        return None;
    }
    let (_, name) = SHADOW_CLIENTS.iter().find(|(c, _)| *c == id[0])?;
    let version: &[u8] = &id[1..6];
    let end = version
        .iter()
        .rposition(|&b| b != b'-')
        .map_or(0, |i| i + 1);
    let parts = version[..end]
        .iter()
        .map(|&c| match c {
            b'.' => Some(62),
            b'-' => Some(63),
            c => version_char(c),
        })
        .collect::<Option<Vec<_>>>()?;
    Some(if parts.is_empty() {
        name.to_string()
    } else {
        format!("{name} {}", dotted(&parts))
    })
}

/// BitComet before 0.59: `exbc` and two version bytes (BitLord adds `LORD`).
fn bitcomet(id: &[u8; 20]) -> Option<String> {
    if !id.starts_with(b"exbc") {
        return None;
    }
    let name = if &id[6..10] == b"LORD" {
        "BitLord"
    } else {
        "BitComet"
    };
    Some(format!("{name} {}.{:02}", id[4], id[5]))
}

fn unknown(id: &[u8; 20]) -> String {
    let prefix = &id[..8];
    if prefix.iter().all(|b| b.is_ascii_graphic()) {
        // All ASCII, so valid UTF-8.
        format!("Unknown {}", String::from_utf8_lossy(prefix))
    } else {
        format!("Unknown {}", crate::types::to_hex(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(prefix: &[u8]) -> String {
        let mut id = [b'x'; 20];
        id[..prefix.len()].copy_from_slice(prefix);
        client_name(&PeerId(id), None)
    }

    #[test]
    fn azureus_style_clients() {
        assert_eq!(name(b"-qB4650-"), "qBittorrent 4.6.5");
        assert_eq!(name(b"-qB41A0-"), "qBittorrent 4.1.10");
        assert_eq!(name(b"-LT2080-"), "libtorrent (Rasterbar) 2.0.8");
        assert_eq!(name(b"-LT20B0-"), "libtorrent (Rasterbar) 2.0.11");
        assert_eq!(name(b"-lt0D80-"), "libTorrent (rakshasa) 0.13.8");
        assert_eq!(name(b"-DE13F0-"), "Deluge 1.3.15");
        assert_eq!(name(b"-DE211s-"), "Deluge 2.1.1");
        assert_eq!(name(b"-AZ5750-"), "Azureus/Vuze 5.7.5.0");
        assert_eq!(name(b"-BI3610-"), "BiglyBT 3.6.1.0");
        assert_eq!(name(b"-BC0150-"), "BitComet 1.50");
        assert_eq!(name(b"-SH0100-"), "Shoal 0.1.0");
        assert_eq!(name(crate::types::PEER_ID_PREFIX), "Shoal 0.1.0");
        assert_eq!(name(b"-WS0000-"), "HTTP Seed");
    }

    #[test]
    fn utorrent_versions() {
        assert_eq!(name(b"-UT355W-"), "µTorrent 3.5.5");
        assert_eq!(name(b"-UT2210-"), "µTorrent 2.2.1");
        assert_eq!(name(b"-UT341B-"), "µTorrent 3.4.1 (beta)");
        assert_eq!(name(b"-UM1870-"), "µTorrent Mac 1.8.7");
        assert_eq!(name(b"-UT3530B"), "µTorrent 3.5.30 (beta)");
        assert_eq!(name(b"-BT7A0--"), "BitTorrent 7.10.0");
    }

    #[test]
    fn transmission_versions() {
        assert_eq!(name(b"-TR3000-"), "Transmission 3.00");
        assert_eq!(name(b"-TR300Z-"), "Transmission 3.00+");
        assert_eq!(name(b"-TR2940-"), "Transmission 2.94");
        assert_eq!(name(b"-TR111Z-"), "Transmission 1.11+");
        assert_eq!(name(b"-TR0072-"), "Transmission 0.72");
        assert_eq!(name(b"-TR0006-"), "Transmission 0.6");
        assert_eq!(name(b"-TR4060-"), "Transmission 4.0.6");
        assert_eq!(name(b"-TR406Z-"), "Transmission 4.0.6+");
        assert_eq!(name(b"-TR400B-"), "Transmission 4.0.0 (beta)");
        // A malformed version still names the client.
        assert_eq!(name(b"-TR3??0-"), "Transmission");
    }

    #[test]
    fn other_styles() {
        assert_eq!(name(b"A2-1-36-0-"), "aria2 1.36.0");
        assert_eq!(name(b"A2-1-37-0-"), "aria2 1.37.0");
        assert_eq!(name(b"A2-zz"), "aria2");
        assert_eq!(name(b"M7-2-1--"), "BitTorrent 7.2.1");
        assert_eq!(name(b"M4-20-8-"), "BitTorrent 4.20.8");
        assert_eq!(name(b"Q1-0-0--"), "Queen Bee 1.0.0");
        assert_eq!(name(b"S58B-----"), "Shad0w 5.8.11");
        assert_eq!(name(b"T03I-----"), "BitTornado 0.3.18");
        let mut comet = *b"exbc\x00\x3exxxxxxxxxxxxxx";
        assert_eq!(client_name(&PeerId(comet), None), "BitComet 0.62");
        comet[6..10].copy_from_slice(b"LORD");
        assert_eq!(client_name(&PeerId(comet), None), "BitLord 0.62");
    }

    #[test]
    fn unknown_ids_are_readable() {
        assert_eq!(name(b"-ZZ1234-"), "Unknown -ZZ1234-");
        assert_eq!(name(b"OpenBT12"), "Unknown OpenBT12");
        assert_eq!(
            client_name(&PeerId([0u8; 20]), None),
            "Unknown 0000000000000000"
        );
        let mut id = [0xFFu8; 20];
        id[..3].copy_from_slice(b"abc");
        assert_eq!(client_name(&PeerId(id), None), "Unknown 616263ffffffffff");
    }

    #[test]
    fn extension_handshake_name_wins() {
        let id = PeerId(*b"-qB4650-xxxxxxxxxxxx");
        assert_eq!(
            client_name(&id, Some("qBittorrent/4.6.5")),
            "qBittorrent/4.6.5"
        );
        assert_eq!(client_name(&id, Some("  ")), "qBittorrent 4.6.5");
        assert_eq!(client_name(&id, Some("a\u{0}b\nc")), "abc");
        assert_eq!(client_name(&id, Some(&"v".repeat(500))).len(), MAX_NAME_LEN);
    }
}
