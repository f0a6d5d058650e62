//! WebDriver steps for the torrent list: filter counts, search, sorting by
//! a header (remembered across a restart), the row context menu (pause,
//! resume, copy the info hash and the magnet link, read back from the X
//! clipboard with xclip), the column chooser, a column widened by a drag,
//! keyboard shortcuts (Space, Ctrl+A, Delete, Shift+Delete, Enter, Ctrl+V); the free space in the
//! status bar and the dark theme chosen in Settings; file priorities in
//! the Files tab, from the row menu and from keys.

use std::time::{Duration, Instant};

use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
    MOUSE_BUTTON_RIGHT,
};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};

use super::common::process::ChildGuard;
use super::steps::{
    bounded, click, screenshot, type_into, wait_attr, wait_for, wait_gone, wait_text, UI_TIMEOUT,
};

/// The names of the rows shown, top to bottom.
pub async fn row_names(c: &Client) -> Result<Vec<String>, String> {
    let v = bounded(
        "reading the row names",
        c.execute(
            "return Array.from(document.querySelectorAll('tr.row td.name')).map((e) => e.textContent);",
            vec![],
        ),
    )
    .await?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Waits (bounded) until the rows shown are exactly `want`, in that order.
pub async fn wait_rows(c: &Client, want: &[&str]) -> Result<(), String> {
    eprintln!("webdriver: waiting for the rows {want:?}");
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let names = row_names(c).await?;
        if names == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the list shows {names:?}, not {want:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Presses a chord: every key down in order, then up in reverse.
pub async fn press(c: &Client, keys: &[char]) -> Result<(), String> {
    let mut seq = KeyActions::new("keyboard".into());
    for &k in keys {
        seq = seq.then(KeyAction::Down { value: k });
    }
    for &k in keys.iter().rev() {
        seq = seq.then(KeyAction::Up { value: k });
    }
    bounded(&format!("pressing {keys:?}"), c.perform_actions(seq)).await?;
    bounded("releasing the keys", c.release_actions()).await
}

/// Right-clicks an element with the real pointer.
pub async fn right_click(c: &Client, css: &str) -> Result<(), String> {
    let element = wait_for(c, css).await?;
    let seq = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_RIGHT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_RIGHT,
        });
    bounded(&format!("right-clicking {css}"), c.perform_actions(seq)).await?;
    bounded("releasing the pointer", c.release_actions()).await
}

// Dialogs are closed with Escape below: the toasts at the bottom right may
// cover their buttons.

/// What the X clipboard holds, read by another X client (xclip).
fn clipboard(display: u32) -> Result<String, String> {
    let out = std::process::Command::new("timeout")
        .args(["10", "xclip", "-o", "-selection", "clipboard"])
        .env("DISPLAY", format!(":{display}"))
        .output()
        .map_err(|e| {
            format!("xclip is not installed (apt-get install xclip; make test does): {e}")
        })?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits (bounded) until the X clipboard holds `want`.
async fn wait_clipboard(display: u32, want: &str) -> Result<(), String> {
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let have = clipboard(display)?;
        if have == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the clipboard holds {have:?}, not {want:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (bounded) until the X clipboard's text contains `want`.
async fn wait_clipboard_has(display: u32, want: &str) -> Result<(), String> {
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let have = clipboard(display)?;
        if have.contains(want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the clipboard holds {have:?}, without {want:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether a checkbox is ticked.
async fn checked(c: &Client, css: &str) -> Result<bool, String> {
    let v = bounded(
        &format!("reading {css}"),
        c.execute(
            "return document.querySelector(arguments[0]).checked;",
            vec![serde_json::Value::String(css.to_string())],
        ),
    )
    .await?;
    v.as_bool()
        .ok_or_else(|| format!("{css} is not a checkbox: {v}"))
}

/// The width the size column's header was given, in pixels.
pub async fn size_column_width(c: &Client) -> Result<i64, String> {
    let v = bounded(
        "reading the size column's width",
        c.execute(
            "return parseInt(document.querySelector('#col-size').style.width, 10);",
            vec![],
        ),
    )
    .await?;
    v.as_i64()
        .ok_or_else(|| format!("the size column has no width: {v}"))
}

/// The count beside a filter in the side bar.
fn count(filter: &str) -> String {
    format!("#filter-{filter} .count")
}

/// The list's steps, with three torrents: `payload` and `shared` seeding,
/// `sample` downloading (its data is nowhere).
pub async fn run(c: &Client, display: u32, shared_hash: &str) -> Result<(), String> {
    // Filter counts, and a filter.
    wait_text(c, &count("all"), "3").await?;
    wait_text(c, &count("seeding"), "2").await?;
    wait_text(c, &count("completed"), "2").await?;
    wait_text(c, &count("downloading"), "1").await?;
    wait_text(c, &count("errored"), "0").await?;
    click(c, "#filter-seeding").await?;
    wait_rows(c, &["payload", "shared"]).await?;
    screenshot(c, "list-filters.png").await?;
    click(c, "#filter-all").await?;
    wait_rows(c, &["payload", "shared", "sample"]).await?;

    // Search by name.
    type_into(c, "#search", "SHAR").await?;
    wait_rows(c, &["shared"]).await?;
    type_into(c, "#search", "").await?;
    wait_rows(c, &["payload", "shared", "sample"]).await?;

    // Sort by name, then the other way.
    click(c, "#col-name").await?;
    wait_attr(c, "#col-name", "data-sort", "asc", UI_TIMEOUT).await?;
    wait_rows(c, &["payload", "sample", "shared"]).await?;
    click(c, "#col-name").await?;
    wait_attr(c, "#col-name", "data-sort", "desc", UI_TIMEOUT).await?;
    wait_rows(c, &["shared", "sample", "payload"]).await?;

    // The row menu: pause, resume, copy the info hash.
    let row = format!("tr[data-id='{shared_hash}']");
    right_click(c, &format!("{row} td.name")).await?;
    click(c, "#row-menu-pause").await?;
    wait_attr(c, &row, "data-state", "paused", UI_TIMEOUT).await?;
    wait_text(c, &count("paused"), "1").await?;
    right_click(c, &format!("{row} td.name")).await?;
    click(c, "#row-menu-resume").await?;
    wait_attr(c, &row, "data-state", "seeding", UI_TIMEOUT).await?;
    right_click(c, &format!("{row} td.name")).await?;
    click(c, "#row-menu-copy-hash").await?;
    wait_text(c, "[data-testid=toast-text]", "Copied the info hash").await?;
    let copied = clipboard(display)?;
    if copied.trim() != shared_hash {
        return Err(format!(
            "the clipboard holds {copied:?}, not the info hash {shared_hash}"
        ));
    }

    // And its magnet link.
    right_click(c, &format!("{row} td.name")).await?;
    click(c, "#row-menu-copy-magnet").await?;
    wait_clipboard_has(display, &format!("xt=urn:btih:{shared_hash}")).await?;

    // The column chooser: right-click a header, add "Downloaded" (kept
    // across the restart, where the test looks for it again).
    right_click(c, "#col-size").await?;
    click(c, "#column-menu-downloaded").await?;
    wait_for(c, "#col-downloaded").await?;

    // A column is widened by dragging its header's right edge.
    let grip = wait_for(c, "#col-size .grip").await?;
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: grip,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(200)),
            x: 60.0,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    bounded("dragging the size column's edge", c.perform_actions(drag)).await?;
    bounded("releasing the pointer", c.release_actions()).await?;
    let width = size_column_width(c).await?;
    if !(140..=160).contains(&width) {
        return Err(format!(
            "the size column is {width}px wide after a 60px drag from 90px"
        ));
    }

    // Keys: Space pauses and resumes the selection; Ctrl+A selects every
    // row; Delete asks before removing; Enter shows the details.
    click(c, &format!("{row} td.name")).await?;
    press(c, &[' ']).await?;
    wait_attr(c, &row, "data-state", "paused", UI_TIMEOUT).await?;
    press(c, &[' ']).await?;
    wait_attr(c, &row, "data-state", "seeding", UI_TIMEOUT).await?;
    press(c, &[Key::Control.into(), 'a']).await?;
    let selected = bounded(
        "counting selected rows",
        c.find_all(Locator::Css("tr.row.selected")),
    )
    .await?;
    if selected.len() != 3 {
        return Err(format!("Ctrl+A selected {} rows, not 3", selected.len()));
    }
    press(c, &[Key::Delete.into()]).await?;
    wait_for(c, "#remove-dialog").await?;
    if checked(c, "#remove-delete-data").await? {
        return Err("Delete offers to delete the data".into());
    }
    press(c, &[Key::Escape.into()]).await?;
    wait_gone(c, "#remove-dialog").await?;
    // Shift+Delete: the same, with "delete the files" ticked.
    press(c, &[Key::Shift.into(), Key::Delete.into()]).await?;
    wait_for(c, "#remove-dialog").await?;
    if !checked(c, "#remove-delete-data").await? {
        return Err("Shift+Delete does not offer to delete the data".into());
    }
    press(c, &[Key::Escape.into()]).await?;
    wait_gone(c, "#remove-dialog").await?;
    click(c, &format!("{row} td.name")).await?;
    bounded("hiding the details", async {
        c.execute(
            "document.querySelector('.hsplit').dispatchEvent(new MouseEvent('dblclick', {bubbles: true}));",
            vec![],
        )
        .await
    })
    .await?;
    wait_gone(c, "#detail-pane").await?;
    press(c, &[Key::Enter.into()]).await?;
    wait_text(c, "#detail-name", "shared").await?;
    // When it was added, as a date.
    wait_text(c, "#detail-added", " UTC").await?;

    // Ctrl+V outside a text field: a magnet link on the clipboard opens the
    // Add dialog with it.
    let magnet = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=pasted";
    let file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    std::fs::write(file.path(), magnet).map_err(|e| e.to_string())?;
    // -quiet keeps xclip in the foreground, serving the clipboard, so the
    // guard stops it by its PID.
    let mut serve = std::process::Command::new("xclip");
    serve
        .args(["-quiet", "-i", "-selection", "clipboard"])
        .arg(file.path())
        .env("DISPLAY", format!(":{display}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut xclip = ChildGuard::spawn("xclip", &mut serve);
    wait_clipboard(display, magnet).await?;
    click(c, &format!("{row} td.name")).await?;
    press(c, &[Key::Control.into(), 'v']).await?;
    super::steps::wait_value(c, "#magnet-uri", magnet).await?;
    xclip.stop();
    press(c, &[Key::Escape.into()]).await?;
    wait_gone(c, "#add-dialog").await?;

    // The status bar tells the download folder's free space.
    wait_text(c, "#status-free", "Free: ").await?;

    // The dark theme, chosen in Settings, applies at once.
    click(c, "#settings-button").await?;
    let select = wait_for(c, "#settings-theme").await?;
    bounded("choosing the dark theme", select.select_by_value("dark")).await?;
    wait_theme(c, "dark").await?;
    press(c, &[Key::Escape.into()]).await?;
    wait_gone(c, "#settings-dialog").await?;
    let background = bounded(
        "reading the page's colour",
        c.execute(
            "return getComputedStyle(document.documentElement).backgroundColor;",
            vec![],
        ),
    )
    .await?;
    if background.as_str() != Some("rgb(21, 25, 30)") {
        return Err(format!("the dark theme's background is {background}"));
    }
    screenshot(c, "dark.png").await?;
    Ok(())
}

/// Waits (bounded) until the page's theme attribute is `want`.
pub async fn wait_theme(c: &Client, want: &str) -> Result<(), String> {
    eprintln!("webdriver: waiting for the {want} theme");
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let v = bounded(
            "reading the theme",
            c.execute(
                "return document.documentElement.dataset.theme ?? null;",
                vec![],
            ),
        )
        .await?;
        if v.as_str() == Some(want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the theme is {v}, not {want}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A file row of the Files tab.
fn file(path: &str) -> String {
    format!("[data-testid=file-row][data-path='{path}']")
}

/// The Files tab of the complete `payload` torrent: priorities from the row
/// menu and from keys, per file and per folder, as the engine reports them
/// back; then every file back to Normal.
pub async fn files(c: &Client, payload_hash: &str) -> Result<(), String> {
    click(c, &format!("tr[data-id='{payload_hash}'] td.name")).await?;
    click(c, "#tab-files").await?;
    let readme = file("payload/docs/readme.txt");
    let odd = file("payload/docs/odd.bin");
    let big = file("payload/big.bin");
    let docs = file("payload/docs");
    // The menu: Low for one file.
    right_click(c, &format!("{readme} td.name")).await?;
    click(c, "#file-menu-low").await?;
    wait_attr(c, &readme, "data-priority", "low", UI_TIMEOUT).await?;
    wait_attr(c, &docs, "data-priority", "mixed", UI_TIMEOUT).await?;
    // A key: H on the folder makes both its files High.
    click(c, &format!("{docs} td.name")).await?;
    press(c, &['h']).await?;
    wait_attr(c, &readme, "data-priority", "high", UI_TIMEOUT).await?;
    wait_attr(c, &odd, "data-priority", "high", UI_TIMEOUT).await?;
    wait_attr(c, &docs, "data-priority", "high", UI_TIMEOUT).await?;
    // Don't download, from the menu.
    right_click(c, &format!("{big} td.name")).await?;
    click(c, "#file-menu-skip").await?;
    wait_attr(c, &big, "data-priority", "skip", UI_TIMEOUT).await?;
    wait_text(
        c,
        &format!("{big} [data-testid=file-priority]"),
        "Don’t download",
    )
    .await?;
    screenshot(c, "files.png").await?;
    // N on the torrent's folder: all Normal again.
    click(c, &format!("{} td.name", file("payload"))).await?;
    press(c, &['n']).await?;
    for f in [&readme, &odd, &big] {
        wait_attr(c, f, "data-priority", "normal", UI_TIMEOUT).await?;
    }
    Ok(())
}
