//! Torrents opened from outside (a second launch with a magnet link or a
//! .torrent path, as a browser or the file manager does) and torrents made
//! to hurt the window:
//!
//! - a forwarded .torrent shows the Add dialog and nothing is added until
//!   the user confirms; Cancel adds nothing;
//! - a .torrent whose name, file names and comment are markup, template
//!   syntax, bidi overrides and line breaks, and a magnet link whose name is
//!   10,000 characters of the same, show as literal text in the Add dialog,
//!   the list, the details, the Files tab, the Remove dialog and the toasts:
//!   no element is injected, no script runs, the window keeps its layout;
//! - with the setting "add without asking", a forwarded magnet is added at
//!   once.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::Client;
use shoal::{InfoHash, Magnet, Metainfo};

use super::common::process::ChildGuard;
use super::steps::{
    bounded, click, text_of, wait_attr, wait_for, wait_gone, wait_text, Ctx, UI_TIMEOUT,
};

/// The hostile torrent's name: no `/` (a name is one path component, and
/// the engine refuses separators), a line break (which the engine turns
/// into `_`) and a right-to-left override.
pub const HOSTILE_NAME: &str =
    "<img src=x onerror=window.__pwned=1><b>bold<b> {{7*7}} ${7*7} &amp; \u{202e}gpj.exe\nend";
/// Its comment: any text at all, several lines.
pub const HOSTILE_COMMENT: &str =
    "<b>bold</b><img src=z onerror=window.__pwned=4>\n{{constructor.constructor('window.__pwned=5')()}}\n\u{202e}txet";
/// Its files (one path component each).
pub const HOSTILE_FILES: [&str; 3] = [
    "<img src=y onerror=window.__pwned=2>.txt",
    "{{7*7}}.bin",
    "\u{202e}fdp.exe",
];

/// Markup that must show as text wherever the hostile names are shown.
const LITERALS: [&str; 2] = ["<img src=x onerror=window.__pwned=1>", "{{7*7}}"];

/// Runs a second launch of the app with `arg`, which hands it to the
/// running app and exits.
pub async fn second_launch(ctx: &Ctx<'_>, arg: &OsStr) -> Result<(), String> {
    let mut cmd = std::process::Command::new(ctx.app);
    cmd.arg(arg)
        .env("DISPLAY", format!(":{}", ctx.display))
        .env("NO_AT_BRIDGE", "1")
        .stdin(std::process::Stdio::null());
    ctx.sandbox.apply(&mut cmd);
    let mut second = ChildGuard::spawn("second launch", &mut cmd);
    let deadline = Instant::now() + UI_TIMEOUT;
    let status = loop {
        if let Some(s) = second.exited() {
            break s;
        }
        if Instant::now() > deadline {
            return Err(format!("the second launch still runs after {UI_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if !status.success() {
        return Err(format!("the second launch failed: {status}"));
    }
    Ok(())
}

/// A forwarded .torrent waits in the Add dialog: Cancel adds nothing, a
/// second time Add adds it.
pub async fn forwarded_torrent_asks_first(c: &Client, ctx: &Ctx<'_>) -> Result<(), String> {
    let row = format!("tr[data-id='{}']", ctx.expected_hash);
    let count = text_of(c, "#status-torrents").await?;
    second_launch(ctx, ctx.torrent.as_os_str()).await?;
    wait_text(c, "#add-dialog-title", "Add this torrent?").await?;
    wait_text(c, "#add-name", "sample").await?;
    wait_for(c, "[data-testid=add-file]").await?;
    // Shown, not added: an update (once a second) would have listed it.
    settle().await;
    absent(c, &row).await?;
    click(c, "#add-cancel").await?;
    wait_gone(c, "#add-dialog").await?;
    settle().await;
    absent(c, &row).await?;
    wait_text(c, "#status-torrents", &count).await?;

    second_launch(ctx, ctx.torrent.as_os_str()).await?;
    wait_text(c, "#add-name", "sample").await?;
    absent(c, &row).await?;
    click(c, "#magnet-add").await?;
    wait_gone(c, "#add-dialog").await?;
    wait_text(c, &format!("{row} td.name"), "sample").await?;
    Ok(())
}

/// The hostile torrent and magnet in every place the window shows their
/// text, then the "add without asking" setting; leaves the list as it was.
pub async fn hostile_names(c: &Client, ctx: &Ctx<'_>) -> Result<(), String> {
    let table_width = list_width(c).await?;
    let (path, meta) = hostile_torrent(ctx.work);
    let hash = meta.info_hash.to_hex();
    let row = format!("tr[data-id='{hash}']");

    // The Add dialog: name, comment and files as text.
    second_launch(ctx, path.as_os_str()).await?;
    wait_for(c, "#add-preview").await?;
    for lit in LITERALS {
        wait_text(c, "#add-name", lit).await?;
    }
    wait_text(c, "#add-comment", "<b>bold</b><img src=z").await?;
    wait_text(c, "#add-files", HOSTILE_FILES[0]).await?;
    wait_text(c, "#add-files", HOSTILE_FILES[1]).await?;
    not_injected(c).await?;
    // Added paused, without its second file.
    click(c, "#add-paused").await?;
    click(c, "[data-testid=add-file][data-index='1'] input").await?;
    click(c, "#magnet-add").await?;
    wait_gone(c, "#add-dialog").await?;
    wait_attr(c, &row, "data-state", "paused", UI_TIMEOUT).await?;

    // The list row and the details.
    for lit in LITERALS {
        wait_text(c, &format!("{row} td.name"), lit).await?;
    }
    click(c, "#tab-overview").await?;
    for lit in LITERALS {
        wait_text(c, "#detail-name", lit).await?;
    }
    wait_text(c, "#detail-comment", "<b>bold</b><img src=z").await?;
    wait_text(c, "#detail-comment", "{{constructor.constructor(").await?;
    no_bidi_override(c, &format!("{row} td.name")).await?;
    no_bidi_override(c, "#detail-name").await?;
    // Files: the names as text, the second file not wanted.
    click(c, "#tab-files").await?;
    wait_text(c, "#detail-pane", HOSTILE_FILES[0]).await?;
    wait_text(c, "#detail-pane", HOSTILE_FILES[1]).await?;
    wait_text(c, "#detail-pane", "fdp.exe").await?;
    no_bidi_override(c, "#detail-pane").await?;
    let second = format!("[data-testid=file-row][data-path$='{}']", HOSTILE_FILES[1]);
    wait_attr(c, &second, "data-priority", "skip", UI_TIMEOUT).await?;
    not_injected(c).await?;
    layout_holds(c, &row, &table_width).await?;

    // A magnet whose name is 10,000 characters of the same, with lines
    // (cut by the engine, shown whole as it is kept).
    let long = hostile_long_name();
    let magnet = Magnet {
        display_name: Some(long.clone()),
        ..Magnet::new(InfoHash([0x5a; 20]))
    }
    .to_uri();
    let magnet_row = format!("tr[data-id='{}']", "5a".repeat(20));
    second_launch(ctx, OsStr::new(&magnet)).await?;
    wait_text(c, "#add-name", LITERALS[0]).await?;
    wait_text(c, "#add-preview", "known once the metadata").await?;
    not_injected(c).await?;
    click(c, "#magnet-add").await?;
    wait_gone(c, "#add-dialog").await?;
    let shown = text_of(c, &format!("{magnet_row} td.name")).await?;
    // The engine keeps the first 255 bytes of a magnet's name.
    let kept = Magnet::parse(&magnet)
        .map_err(|e| e.to_string())?
        .display_name
        .unwrap_or_default();
    let want = plain_name(&kept);
    if shown != want.trim() {
        return Err(format!(
            "the long name is not shown whole as one line of text: {} chars shown, {} wanted",
            shown.chars().count(),
            want.chars().count()
        ));
    }
    not_injected(c).await?;
    layout_holds(c, &magnet_row, &table_width).await?;
    layout_holds(c, &row, &table_width).await?;

    // Added again by hand: the dialog's error names it, cut short.
    click(c, "#add-magnet").await?;
    paste_into(c, "#magnet-uri", &magnet).await?;
    click(c, "#magnet-add").await?;
    let message = text_of(c, "#add-dialog [data-testid=error-message]").await?;
    if !message.contains(LITERALS[0]) || message.chars().count() > 401 {
        return Err(format!(
            "the duplicate's message is not the name as text, cut short: {} chars: {:?}",
            message.chars().count(),
            message.chars().take(200).collect::<String>()
        ));
    }
    not_injected(c).await?;
    click(c, "#add-cancel").await?;
    wait_gone(c, "#add-dialog").await?;

    // "Add without asking": a forwarded magnet is added at once, and one
    // that is already there gives a toast with its name as text.
    set_add_without_asking(c, true).await?;
    let direct = Magnet {
        display_name: Some("direct".into()),
        ..Magnet::new(InfoHash([0x5b; 20]))
    };
    let direct_row = format!("tr[data-id='{}']", "5b".repeat(20));
    second_launch(ctx, OsStr::new(&direct.to_uri())).await?;
    wait_text(c, &format!("{direct_row} td.name"), "direct").await?;
    absent(c, "#add-dialog").await?;
    second_launch(ctx, OsStr::new(&magnet)).await?;
    let toast = "[data-testid=toast-error] [data-testid=error-message]";
    wait_text(c, toast, LITERALS[0]).await?;
    let toast = text_of(c, toast).await?;
    if toast.chars().count() > 401 {
        return Err(format!(
            "a toast carries {} characters",
            toast.chars().count()
        ));
    }
    absent(c, "#add-dialog").await?;
    not_injected(c).await?;
    set_add_without_asking(c, false).await?;

    // The Remove dialog names it as text, cut short; all three go.
    dismiss_toasts(c).await?;
    for r in [&magnet_row, &row, &direct_row] {
        click(c, &format!("{r} td.name")).await?;
        click(c, "#remove").await?;
        let named = text_of(c, "#remove-dialog strong").await?;
        if r != &direct_row && (!named.contains("<img") || named.chars().count() > 121) {
            return Err(format!(
                "the Remove dialog shows {} characters: {:?}",
                named.chars().count(),
                named.chars().take(200).collect::<String>()
            ));
        }
        not_injected(c).await?;
        click(c, "#remove-confirm").await?;
        wait_gone(c, r).await?;
    }
    Ok(())
}

/// Gives the app time for an update (the ticker sends one a second), so
/// that something that should not appear would have.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(2500)).await;
}

/// Fails if anything matches `css`.
async fn absent(c: &Client, css: &str) -> Result<(), String> {
    let n = run_js(
        c,
        "return document.querySelectorAll(arguments[0]).length;",
        css,
    )
    .await?;
    if n.as_u64() != Some(0) {
        return Err(format!("{css} is there, and should not be"));
    }
    Ok(())
}

/// No element or script came from the names: no `img` anywhere (the window
/// has none of its own), no `b` (nor has it), nothing set `window.__pwned`.
async fn not_injected(c: &Client) -> Result<(), String> {
    let v = run_js(
        c,
        "return JSON.stringify({ img: document.querySelectorAll('img').length, \
         b: document.querySelectorAll('b').length, \
         pwned: window.__pwned === undefined ? null : String(window.__pwned) });",
        "",
    )
    .await?;
    let s = v.as_str().unwrap_or_default();
    if s != r#"{"img":0,"b":0,"pwned":null}"# {
        return Err(format!("a name was rendered as markup: {s}"));
    }
    Ok(())
}

/// The text shown has no bidi override left to reorder it.
async fn no_bidi_override(c: &Client, css: &str) -> Result<(), String> {
    let text = text_of(c, css).await?;
    if text.contains('\u{202e}') {
        return Err(format!("{css} still holds a right-to-left override"));
    }
    Ok(())
}

/// The torrent list's width (it must not grow with a long name).
async fn list_width(c: &Client) -> Result<String, String> {
    let v = run_js(
        c,
        "return String(document.querySelector('tr.row').closest('table').getBoundingClientRect().width);",
        "",
    )
    .await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// The row is on screen and has a row's height, the list kept its width,
/// and the toolbar and the status bar are still inside the window.
async fn layout_holds(c: &Client, row: &str, table_width: &str) -> Result<(), String> {
    let width = list_width(c).await?;
    if width != table_width {
        return Err(format!(
            "the list grew from {table_width}px to {width}px wide with {row}"
        ));
    }
    let v = run_js(
        c,
        "const r = document.querySelector(arguments[0]).getBoundingClientRect(); \
         const t = document.getElementById('add-magnet').getBoundingClientRect(); \
         const s = document.getElementById('status-torrents').getBoundingClientRect(); \
         const w = window.innerWidth, h = window.innerHeight; \
         return JSON.stringify({ row: r.height > 10 && r.height < 60 && r.top >= 0 && r.top < h, \
           toolbar: t.left >= 0 && t.right <= w && t.top >= 0, \
           status: s.bottom <= h && s.right <= w && s.left >= 0 });",
        row,
    )
    .await?;
    let s = v.as_str().unwrap_or_default();
    if s != r#"{"row":true,"toolbar":true,"status":true}"# {
        return Err(format!("the window's layout broke with {row}: {s}"));
    }
    Ok(())
}

async fn run_js(c: &Client, script: &str, arg: &str) -> Result<serde_json::Value, String> {
    bounded(
        "running a check in the window",
        c.execute(script, vec![serde_json::Value::String(arg.to_string())]),
    )
    .await
}

/// Puts `text` in a form field at once, as a paste does (typing 16,000
/// characters key by key takes minutes).
async fn paste_into(c: &Client, css: &str, text: &str) -> Result<(), String> {
    wait_for(c, css).await?;
    bounded(
        &format!("pasting {} chars into {css}", text.len()),
        c.execute(
            "const f = document.querySelector(arguments[0]); f.value = arguments[1]; \
             f.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![
                serde_json::Value::String(css.to_string()),
                serde_json::Value::String(text.to_string()),
            ],
        ),
    )
    .await?;
    Ok(())
}

/// Closes every toast (they can cover a dialog's buttons).
async fn dismiss_toasts(c: &Client) -> Result<(), String> {
    let closes = bounded(
        "finding the toasts",
        c.find_all(fantoccini::Locator::Css(".toasts .close")),
    )
    .await?;
    for b in closes {
        // A toast can time out meanwhile; that is as good.
        let _ = bounded("dismissing a toast", b.click()).await;
    }
    wait_gone(c, ".toasts .toast").await
}

/// Turns the setting on or off in the Settings dialog.
async fn set_add_without_asking(c: &Client, on: bool) -> Result<(), String> {
    dismiss_toasts(c).await?;
    click(c, "#settings-button").await?;
    let field = wait_for(c, "#settings-add-without-asking").await?;
    let checked = bounded("reading the setting", field.prop("checked")).await?;
    if (checked.as_deref() == Some("true")) != on {
        click(c, "#settings-add-without-asking").await?;
    }
    click(c, "#settings-save").await?;
    wait_gone(c, "#settings-dialog").await
}

/// 10,000 characters of markup, line breaks and overrides.
fn hostile_long_name() -> String {
    let unit = "<img src=x onerror=window.__pwned=1><b>bold</b> {{7*7}}\n\u{202e}x ";
    let mut s = String::new();
    while s.chars().count() + unit.chars().count() <= 10_000 {
        s.push_str(unit);
    }
    while s.chars().count() < 10_000 {
        s.push('.');
    }
    s
}

/// What the window shows of a name: line breaks as spaces, no overrides.
fn plain_name(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Writes the hostile .torrent (three files, no data needed: it is added
/// paused) and returns its path and what our parser makes of it.
fn hostile_torrent(dir: &Path) -> (PathBuf, Metainfo) {
    fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(format!("{}:", b.len()).as_bytes());
        out.extend_from_slice(b);
    }
    let mut info = b"d5:filesl".to_vec();
    for (i, f) in HOSTILE_FILES.iter().enumerate() {
        info.extend_from_slice(format!("d6:lengthi{}e4:pathl", 1000 * (i + 1)).as_bytes());
        bytes(&mut info, f.as_bytes());
        info.extend_from_slice(b"ee");
    }
    info.extend_from_slice(b"e4:name");
    bytes(&mut info, HOSTILE_NAME.as_bytes());
    info.extend_from_slice(b"12:piece lengthi16384e6:pieces20:");
    info.extend_from_slice(&[0x42; 20]);
    info.push(b'e');
    let mut t = b"d7:comment".to_vec();
    bytes(&mut t, HOSTILE_COMMENT.as_bytes());
    t.extend_from_slice(b"4:info");
    t.extend_from_slice(&info);
    t.push(b'e');
    let path = dir.join("hostile.torrent");
    std::fs::write(&path, &t).expect("write the hostile torrent");
    let meta = Metainfo::from_bytes(&t).expect("the hostile torrent parses");
    (path, meta)
}
