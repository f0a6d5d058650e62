//! Desktop notifications: the "download complete" message, with the
//! torrent's name made safe for notification servers that read the body as
//! markup (the freedesktop spec's `body-markup`, which GNOME and KDE
//! implement): a name is data from a stranger's .torrent and must show as
//! text, never as tags or entities.

use tauri::{AppHandle, Runtime};

/// Longest name a notification shows, in characters; longer names are cut
/// and end in "…" (the list shows the whole name).
pub const MAX_NOTIFIED_NAME: usize = 200;

/// The body of the "download complete" notification for `name`: on one
/// line (control characters become spaces), without bidi controls (which
/// could reorder what follows), at most [`MAX_NOTIFIED_NAME`] characters,
/// and with `&`, `<`, `>`, `"` and `'` as entities, so a server that reads
/// markup shows the name as the text it is.
pub fn notification_body(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(4 * MAX_NOTIFIED_NAME) + 8);
    for (shown, c) in name.chars().filter(|c| !is_bidi_control(*c)).enumerate() {
        if shown == MAX_NOTIFIED_NAME {
            out.push('…');
            break;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Shows the "download complete" notification (the window shows its own
/// message too). Without a notification service, as under Xvfb, it is only
/// logged.
pub fn complete<R: Runtime>(app: &AppHandle<R>, name: String) {
    use tauri_plugin_notification::NotificationExt;
    let app = app.clone();
    // The D-Bus call blocks; keep it off the ticker.
    tauri::async_runtime::spawn_blocking(move || {
        let shown = app
            .notification()
            .builder()
            .title("Download complete")
            .body(notification_body(&name))
            .show();
        if let Err(e) = shown {
            eprintln!("shoal-desktop: no desktop notification for {name:?}: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            notification_body("<b>bold</b> & <img src=x onerror=\"a('b')\">"),
            "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;"
        );
        // An entity in the name stays the text it is.
        assert_eq!(notification_body("&amp;"), "&amp;amp;");
        assert_eq!(notification_body("plain name.iso"), "plain name.iso");
    }

    #[test]
    fn control_characters_and_length_are_bounded() {
        // A line break cannot start a fake second line; bidi overrides
        // cannot reorder the text after the name.
        assert_eq!(notification_body("a\nb\r\tc"), "a b  c");
        assert_eq!(notification_body("x\u{202e}gpj.exe"), "xgpj.exe");
        let long = "é".repeat(10_000);
        let body = notification_body(&long);
        assert_eq!(body.chars().count(), MAX_NOTIFIED_NAME + 1);
        assert!(body.ends_with('…'));
    }
}
