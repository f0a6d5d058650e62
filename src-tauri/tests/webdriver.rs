//! Drives the real desktop app through WebDriver under Xvfb: opens a .torrent
//! made by mktorrent by typing its path, and checks that the window shows the
//! name and the info hash transmission-show reports; then a bad path, and
//! checks the error message. Saves a screenshot to assets/screenshots/.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};

use common::desktop::{Driver, Sandbox, Xvfb};

/// Bound on each wait for the window to show something.
const UI_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on the whole test, start-up included.
const TEST_TIMEOUT: Duration = Duration::from_secs(240);

#[test]
fn open_torrent_shows_name_and_info_hash() {
    let work = tempfile::tempdir().expect("temp dir");
    let (torrent, expected_hash) = make_torrent(work.path());

    // Order matters on drop: the driver (and the app under it) before X.
    let xvfb = Xvfb::start();
    let sandbox = Sandbox::new();
    let driver = Driver::start(&xvfb, &sandbox);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let app = PathBuf::from(env!("CARGO_BIN_EXE_shoal-desktop"));
    runtime.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, drive(&driver, &app, &torrent, &expected_hash))
            .await
            .expect("the WebDriver test did not finish in time");
    });
    drop(driver);
    drop(xvfb);
}

async fn drive(driver: &Driver, app: &Path, torrent: &Path, expected_hash: &str) {
    eprintln!("webdriver: opening a session on {}", app.display());
    let client = driver.session(app, &[]).await;
    let result = steps(&client, torrent, expected_hash).await;
    if result.is_err() {
        report_failure(&client).await;
    }
    // End the session (which closes the app) whatever happened, bounded.
    let _ = tokio::time::timeout(Duration::from_secs(20), client.close()).await;
    result.unwrap_or_else(|e| panic!("{e}"));
}

async fn steps(client: &Client, torrent: &Path, expected_hash: &str) -> Result<(), String> {
    // A path that does not exist: a clear message, no crash.
    type_into(client, "#torrent-path", "/nonexistent/missing.torrent").await?;
    click(client, "#open-button").await?;
    let message = text_of(client, "[data-testid=error-message]").await?;
    if !message.contains("cannot read /nonexistent/missing.torrent") {
        return Err(format!("unexpected error message: {message:?}"));
    }

    // The real torrent.
    type_into(
        client,
        "#torrent-path",
        torrent.to_str().expect("utf-8 temp path"),
    )
    .await?;
    click(client, "#open-button").await?;
    let name = text_of(client, "#torrent-name").await?;
    if name != "sample" {
        return Err(format!("window shows name {name:?}, expected \"sample\""));
    }
    let hash = text_of(client, "#info-hash").await?;
    if hash != expected_hash {
        return Err(format!(
            "window shows info hash {hash:?}, transmission-show says {expected_hash}"
        ));
    }
    let files = text_of(client, "#files").await?;
    if !(files.contains("sample/a.bin") && files.contains("sample/sub/b.txt")) {
        return Err(format!("file list misses a file: {files:?}"));
    }
    let status = text_of(client, "[data-testid=status]").await?;
    if status != "Opened sample" {
        return Err(format!(
            "status bar shows {status:?} instead of the opened event"
        ));
    }

    let png = bounded("taking a screenshot", client.screenshot()).await?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/screenshots");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let shot = dir.join("desktop-open-torrent.png");
    std::fs::write(&shot, png).map_err(|e| format!("writing {}: {e}", shot.display()))?;
    eprintln!("webdriver: screenshot saved to {}", shot.display());
    Ok(())
}

/// Runs one WebDriver call, bounded by [`UI_TIMEOUT`], logging it so a
/// failure shows how far the test got.
async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    eprintln!("webdriver: {what}");
    match tokio::time::timeout(UI_TIMEOUT, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {UI_TIMEOUT:?}")),
    }
}

/// Waits (bounded) for an element to appear.
async fn wait_for(client: &Client, css: &str) -> Result<Element, String> {
    bounded(
        &format!("waiting for {css}"),
        client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(css)),
    )
    .await
}

/// Replaces the text of an input field.
async fn type_into(client: &Client, css: &str, text: &str) -> Result<(), String> {
    let field = wait_for(client, css).await?;
    bounded(&format!("clearing {css}"), field.clear()).await?;
    bounded(
        &format!("typing {text:?} into {css}"),
        field.send_keys(text),
    )
    .await
}

async fn click(client: &Client, css: &str) -> Result<(), String> {
    let element = wait_for(client, css).await?;
    bounded(&format!("clicking {css}"), element.click()).await
}

/// Waits for an element and returns its visible text.
async fn text_of(client: &Client, css: &str) -> Result<String, String> {
    let element = wait_for(client, css).await?;
    let text = bounded(&format!("reading {css}"), element.text()).await?;
    Ok(text.trim().to_string())
}

/// Saves what the window looked like when a step failed, and prints its HTML.
async fn report_failure(client: &Client) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let shot = dir.join("webdriver-failure.png");
    if let Ok(Ok(png)) = tokio::time::timeout(UI_TIMEOUT, client.screenshot()).await {
        if std::fs::write(&shot, png).is_ok() {
            eprintln!("screenshot of the failure: {}", shot.display());
        }
    }
    if let Ok(Ok(html)) = tokio::time::timeout(UI_TIMEOUT, client.source()).await {
        eprintln!("page source at the failure:\n{html}");
    }
    if let Ok(Ok(url)) = tokio::time::timeout(UI_TIMEOUT, client.current_url()).await {
        eprintln!("page URL at the failure: {url}");
    }
}

/// Makes a two-file torrent with mktorrent and asks transmission-show for its
/// info hash, so the expected value comes from tools other than ours.
fn make_torrent(dir: &Path) -> (PathBuf, String) {
    let content = dir.join("sample");
    std::fs::create_dir_all(content.join("sub")).expect("mkdir");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(content.join("a.bin"), data).expect("write a.bin");
    std::fs::write(content.join("sub/b.txt"), b"hello from shoal\n").expect("write b.txt");
    let torrent = dir.join("sample.torrent");
    let out = Command::new("mktorrent")
        .args([
            "-l",
            "15",
            "-a",
            "http://127.0.0.1:6969/announce",
            "-c",
            "desktop test",
            "-o",
        ])
        .arg(&torrent)
        .arg(&content)
        .output()
        .expect("mktorrent is not installed: apt-get install mktorrent (make test does)");
    assert!(
        out.status.success(),
        "mktorrent failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("transmission-show")
        .arg(&torrent)
        .output()
        .expect(
            "transmission-show is not installed: apt-get install transmission-cli (make test does)",
        );
    assert!(out.status.success(), "transmission-show failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let hash = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Hash: "))
        .unwrap_or_else(|| panic!("no hash in transmission-show output: {stdout}"))
        .trim()
        .to_string();
    (torrent, hash)
}
