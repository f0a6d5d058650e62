//! The steps of the WebDriver test, and the in-process seeder it downloads
//! from. Every WebDriver call and every wait is bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};

use shoal::session::{Session, SessionConfig};
use shoal::torrent::AddTorrent;
use shoal::{CreateOptions, Magnet, Metainfo};

use super::common::desktop::{Driver, Sandbox};
use super::common::process::stop_pids;

/// Bound on each wait for the window to show something.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on a download or a state change to appear in the list.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(90);
/// The in-process seeder's upload limit: its 3 MiB take several seconds.
pub const SEEDER_UPLOAD_LIMIT: u64 = 400 * 1024;
/// The test's download of the torrent created in the app: slow enough to
/// watch the app upload.
pub const LEECH_DOWNLOAD_LIMIT: u64 = 48 * 1024;

/// What the steps work with.
pub struct Ctx<'a> {
    pub driver: &'a Driver,
    pub app: &'a Path,
    pub sandbox: &'a Sandbox,
    pub display: u32,
    pub work: &'a Path,
    pub torrent: &'a Path,
    pub expected_hash: &'a str,
    pub seeder: &'a Seeder,
}

/// A Shoal session in the test process seeding a folder on 127.0.0.1.
pub struct Seeder {
    /// The session; shut down by the test.
    pub session: Session,
    /// The torrent it seeds.
    pub meta: Metainfo,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The content folder (`<work>/seed/payload`).
    pub content: PathBuf,
}

impl Seeder {
    /// Creates a 3-file payload of about 3 MiB, a torrent of it, and a
    /// session seeding it; returns once the session has verified the data.
    pub async fn start(work: &Path) -> Seeder {
        let base = work.join("seed");
        let content = base.join("payload");
        std::fs::create_dir_all(content.join("docs")).expect("mkdir payload");
        let mut x: u32 = 12345;
        let mut bytes = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect()
        };
        std::fs::write(content.join("big.bin"), bytes(3 << 20)).expect("write");
        std::fs::write(content.join("docs/readme.txt"), b"Shoal test payload\n").expect("write");
        std::fs::write(content.join("docs/odd.bin"), bytes(70_001)).expect("write");
        let options = CreateOptions {
            piece_length: Some(64 * 1024),
            ..CreateOptions::default()
        };
        let c = content.clone();
        let meta =
            tokio::task::spawn_blocking(move || shoal::create_torrent(&c, &options, |_, _| {}))
                .await
                .expect("create task")
                .expect("create the seeder's torrent");
        let session = Session::new(SessionConfig {
            listen_addr: "127.0.0.1:0".parse().expect("addr"),
            dht: None,
            // Slow enough that the download can be watched while it runs.
            upload_limit: Some(SEEDER_UPLOAD_LIMIT),
            ..SessionConfig::default()
        })
        .await
        .expect("start the seeding session");
        let handle = session
            .add_torrent(AddTorrent::new(meta.clone(), &base))
            .expect("add the seeder's torrent");
        tokio::time::timeout(TRANSFER_TIMEOUT, handle.wait_complete())
            .await
            .expect("the seeder did not verify its data in time")
            .expect("the seeder failed");
        let addr = SocketAddr::from(([127, 0, 0, 1], session.listen_port()));
        Seeder {
            session,
            meta,
            addr,
            content,
        }
    }

    /// A magnet link to the payload that names the seeder as a peer.
    pub fn magnet(&self) -> String {
        let mut m = Magnet::from_metainfo(&self.meta);
        m.trackers.clear();
        m.peers = vec![self.addr.to_string()];
        m.to_uri()
    }
}

/// Runs every step on one app session, then closes it (which quits the app).
pub async fn run(ctx: &Ctx<'_>) {
    eprintln!("webdriver: opening a session on {}", ctx.app.display());
    let client = ctx.driver.session(ctx.app, &[]).await;
    let result = steps(&client, ctx).await;
    if result.is_err() {
        report_failure(&client).await;
    }
    // End the session (which closes the app) whatever happened, bounded.
    let _ = tokio::time::timeout(Duration::from_secs(20), client.close()).await;
    result.unwrap_or_else(|e| panic!("{e}"));

    // 11. Quit the app (SIGTERM, if closing the session left it running)
    // and start it again, with a magnet link on its command line: the same
    // torrents, with their progress. A damaged record in the state folder is
    // reported, not fatal.
    let left = ctx.driver.app_pids(ctx.app);
    eprintln!("webdriver: stopping the app ({left:?}) and starting it again");
    stop_pids(&left);
    let records = ctx.sandbox.data_dir().join("session/torrents");
    std::fs::write(records.join("damaged.resume"), b"d4:junk")
        .expect("write a damaged record into the state folder");
    let magnet = Magnet {
        display_name: Some("payload".into()),
        ..Magnet::new(shoal::InfoHash([0x5c; 20]))
    }
    .to_uri();
    let client = ctx.driver.session(ctx.app, &[&magnet]).await;
    let result = after_restart(&client, ctx).await;
    if result.is_err() {
        report_failure(&client).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), client.close()).await;
    result.unwrap_or_else(|e| panic!("{e}"));
}

async fn after_restart(c: &Client, ctx: &Ctx<'_>) -> Result<(), String> {
    // Started with a magnet link on its command line: the Add dialog asks
    // first, and Cancel adds nothing.
    wait_text(c, "#add-dialog-title", "Add this torrent?").await?;
    wait_text(c, "#add-name", "payload").await?;
    click(c, "#add-cancel").await?;
    wait_gone(c, "#add-dialog").await?;
    let payload = format!("tr[data-id='{}']", ctx.seeder.meta.info_hash.to_hex());
    wait_attr(c, &payload, "data-state", "seeding", TRANSFER_TIMEOUT).await?;
    wait_text(c, &format!("{payload} .pct"), "100%").await?;
    let sample = format!("tr[data-id='{}']", ctx.expected_hash);
    wait_text(c, &format!("{sample} td.name"), "sample").await?;
    wait_text(c, "#status-torrents", "3 torrents").await?;
    // The list is still sorted by name, Z to A.
    wait_attr(c, "#col-name", "data-sort", "desc", UI_TIMEOUT).await?;
    super::list::wait_rows(c, &["shared", "sample", "payload"]).await?;
    // And dark, with the column added.
    super::list::wait_theme(c, "dark").await?;
    wait_for(c, "#col-downloaded").await?;
    let width = super::list::size_column_width(c).await?;
    if !(140..=160).contains(&width) {
        return Err(format!("the size column's width was not kept: {width}px"));
    }
    wait_text(c, "[data-testid=startup-message]", "could not be restored").await?;
    Ok(())
}

async fn steps(c: &Client, ctx: &Ctx<'_>) -> Result<(), String> {
    wait_for(c, "#empty-list").await?;

    // 1. A bad magnet link: a clear message in the dialog, nothing added.
    click(c, "#add-magnet").await?;
    type_into(c, "#magnet-uri", "magnet:?xt=urn:btih:not-a-hash").await?;
    click(c, "#magnet-add").await?;
    let message = text_of(c, "#add-dialog [data-testid=error-message]").await?;
    if !message.contains("not a usable magnet link") {
        return Err(format!("unexpected message for a bad magnet: {message:?}"));
    }
    // A missing .torrent file: says which.
    type_into(c, "#magnet-uri", "/nonexistent/missing.torrent").await?;
    click(c, "#magnet-add").await?;
    wait_text(
        c,
        "#add-dialog [data-testid=error-message]",
        "cannot read /nonexistent/missing.torrent",
    )
    .await?;

    // 2. A .torrent made by mktorrent, by path.
    type_into(c, "#magnet-uri", path_str(ctx.torrent)).await?;
    click(c, "#magnet-add").await?;
    let row = format!("tr[data-id='{}']", ctx.expected_hash);
    wait_text(c, &format!("{row} td.name"), "sample").await?;
    click(c, &format!("{row} td.name")).await?;
    wait_text(c, "#detail-hash", ctx.expected_hash).await?;
    // Removed again (with no data to delete).
    click(c, "#remove").await?;
    click(c, "#remove-confirm").await?;
    wait_gone(c, &row).await?;

    // 3. A magnet link to the in-process seeder: while it downloads, its
    // Peers tab shows the seeder, address and client (once complete, the
    // two seeds part, as they do in other clients).
    let hash = ctx.seeder.meta.info_hash.to_hex();
    click(c, "#add-magnet").await?;
    type_into(c, "#magnet-uri", &ctx.seeder.magnet()).await?;
    click(c, "#magnet-add").await?;
    let row = format!("tr[data-id='{hash}']");
    click(c, &format!("{row} td.name")).await?;
    click(c, "#tab-peers").await?;
    let peer = format!("[data-testid=peer-row][data-addr='{}']", ctx.seeder.addr);
    let text = text_of(c, &peer).await?;
    if !text.contains("Shoal 0.1.0") {
        return Err(format!(
            "the seeder's row does not name its client: {text:?}"
        ));
    }
    screenshot(c, "peers.png").await?;

    // 4. It completes with the seeder's bytes.
    click(c, "#tab-overview").await?;
    wait_attr(c, &row, "data-state", "seeding", TRANSFER_TIMEOUT).await?;
    wait_text(c, &format!("{row} .pct"), "100%").await?;
    for rel in ["big.bin", "docs/readme.txt", "docs/odd.bin"] {
        let want = std::fs::read(ctx.seeder.content.join(rel)).map_err(|e| e.to_string())?;
        let got_path = ctx.sandbox.downloads().join("payload").join(rel);
        let got = std::fs::read(&got_path).map_err(|e| format!("{}: {e}", got_path.display()))?;
        if got != want {
            return Err(format!("downloaded {rel} differs from the seeder's"));
        }
    }
    wait_for(c, "#piece-map").await?;
    screenshot(c, "magnet-download.png").await?;

    // Its Files tab: the tree with every file complete.
    click(c, "#tab-files").await?;
    wait_text(
        c,
        "[data-testid=file-row][data-path='payload/big.bin']",
        "100%",
    )
    .await?;
    wait_text(
        c,
        "[data-testid=file-row][data-path='payload/docs/odd.bin']",
        "100%",
    )
    .await?;

    // Its Peers tab takes a web seed: listed, idle (the torrent is
    // complete); a URL that is refused gives a toast saying why.
    click(c, "#tab-peers").await?;
    let seed_url = "http://127.0.0.1:1/files/";
    type_into(c, "#web-seed-url", seed_url).await?;
    click(c, "#add-web-seed").await?;
    let seed_row = format!("[data-testid=webseed-row][data-url='{seed_url}']");
    wait_attr(c, &seed_row, "data-state", "idle", UI_TIMEOUT).await?;
    wait_text(c, &seed_row, "Web seed").await?;
    type_into(c, "#web-seed-url", "http://127.0.0.1:1/api?delete=1").await?;
    click(c, "#add-web-seed").await?;
    wait_text(
        c,
        "[data-testid=toast-error] [data-testid=error-message]",
        "query string",
    )
    .await?;
    screenshot(c, "web-seeds.png").await?;

    // 5. Create a torrent from a folder and seed it.
    let folder = ctx.work.join("shared");
    std::fs::create_dir_all(folder.join("photos")).map_err(|e| e.to_string())?;
    std::fs::write(folder.join("photos/a.jpg"), vec![7u8; 300_000]).map_err(|e| e.to_string())?;
    std::fs::write(folder.join("notes.txt"), b"made in the create dialog\n")
        .map_err(|e| e.to_string())?;
    click(c, "#tab-overview").await?;
    click(c, "#create-torrent").await?;
    type_into(c, "#create-path", path_str(&folder)).await?;
    type_into(c, "#create-comment", "made by the WebDriver test").await?;
    click(c, "#create-start").await?;
    wait_for(c, "#create-done").await?;
    let out = text_of(c, "#create-output").await?;
    let created = Metainfo::from_bytes(&std::fs::read(&out).map_err(|e| format!("{out}: {e}"))?)
        .map_err(|e| format!("{out}: {e}"))?;
    if created.info.name != "shared"
        || created.comment.as_deref() != Some("made by the WebDriver test")
    {
        return Err(format!("the created torrent is not as asked: {created:?}"));
    }
    screenshot(c, "create.png").await?;
    click(c, "#create-close").await?;
    let created_row = format!("tr[data-id='{}']", created.info_hash.to_hex());
    wait_attr(c, &created_row, "data-state", "seeding", TRANSFER_TIMEOUT).await?;
    // The app really seeds it: the test's session downloads it from the app.
    let port_text = text_of(c, "#status-port").await?;
    let port: u16 = port_text
        .trim_start_matches("Port ")
        .parse()
        .map_err(|_| format!("no port in the status bar: {port_text:?}"))?;
    let leech_dir = ctx.work.join("leech");
    let magnet = Magnet {
        peers: vec![format!("127.0.0.1:{port}")],
        ..Magnet::new(created.info_hash)
    };
    // Slowly, so the window can be seen uploading to it.
    let mut add = AddTorrent::magnet(magnet, &leech_dir);
    add.download_limit = Some(LEECH_DOWNLOAD_LIMIT);
    let leech = ctx
        .seeder
        .session
        .add_torrent(add)
        .map_err(|e| e.to_string())?;
    wait_text(c, &format!("{created_row} .peers"), "1 /").await?;
    screenshot(c, "seeding.png").await?;
    tokio::time::timeout(TRANSFER_TIMEOUT, leech.wait_complete())
        .await
        .map_err(|_| "the test's session did not download the created torrent in time")??;
    let got = std::fs::read(leech_dir.join("shared/photos/a.jpg")).map_err(|e| e.to_string())?;
    if got != vec![7u8; 300_000] {
        return Err("the created torrent's data came back different".into());
    }

    // 6. Pause and resume it.
    click(c, &format!("{created_row} td.name")).await?;
    click(c, "#pause").await?;
    wait_attr(c, &created_row, "data-state", "paused", UI_TIMEOUT).await?;
    click(c, "#resume").await?;
    wait_attr(c, &created_row, "data-state", "seeding", TRANSFER_TIMEOUT).await?;

    // Its own upload limit, set in the Overview, is the engine's: shown
    // again after another torrent was selected in between.
    click(c, "#tab-overview").await?;
    type_into(c, "#torrent-up-limit", "64").await?;
    click(c, "#detail-name").await?;
    click(c, &format!("{row} td.name")).await?;
    wait_text(c, "#detail-name", "payload").await?;
    click(c, &format!("{created_row} td.name")).await?;
    wait_value(c, "#torrent-up-limit", "64").await?;

    // The DHT panel says the DHT is off (as the test asked); the settings
    // dialog saves to the sandbox's config folder.
    click(c, "#dht-button").await?;
    wait_text(c, "#dht-off", "The DHT is off").await?;
    click(c, "#dht-dialog .actions button").await?;
    wait_gone(c, "#dht-dialog").await?;
    click(c, "#settings-button").await?;
    type_into(c, "#settings-port", "51413").await?;
    click(c, "#settings-save").await?;
    wait_text(
        c,
        "[data-testid=toast-text]",
        "take effect when Shoal restarts",
    )
    .await?;
    let settings_file = ctx.sandbox.dir.path().join("config/shoal/settings.json");
    let saved = std::fs::read_to_string(&settings_file)
        .map_err(|e| format!("{}: {e}", settings_file.display()))?;
    if !saved.contains("51413") {
        return Err(format!("the saved settings lack the new port: {saved}"));
    }

    // 12. Why is it slow: three causes in the list and the Overview.
    super::diagnosis::run(c, ctx).await?;

    // 7. A second launch hands its .torrent to this one and exits; the Add
    // dialog shows it, and nothing is added until the user confirms.
    super::opening::forwarded_torrent_asks_first(c, ctx).await?;

    // 8. The list's sorting, filters, search, menu and keys.
    super::list::run(c, ctx.display, &created.info_hash.to_hex()).await?;
    // 9. File priorities.
    super::list::files(c, &hash).await?;
    // 10. Hostile names and comments stay text everywhere.
    super::opening::hostile_names(c, ctx).await?;
    Ok(())
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Runs one WebDriver call, bounded by [`UI_TIMEOUT`], logging it so a
/// failure shows how far the test got.
pub async fn bounded<T, E: std::fmt::Display>(
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
pub async fn wait_for(client: &Client, css: &str) -> Result<Element, String> {
    bounded(
        &format!("waiting for {css}"),
        client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(css)),
    )
    .await
}

/// Waits (bounded) until no element matches.
pub async fn wait_gone(client: &Client, css: &str) -> Result<(), String> {
    eprintln!("webdriver: waiting for {css} to go");
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        match bounded("finding", client.find_all(Locator::Css(css))).await {
            Ok(found) if found.is_empty() => return Ok(()),
            Ok(_) => {}
            // The element can vanish while WebKitWebDriver collects it; that
            // is the going we wait for, so look again.
            Err(e) if e.contains("Stale element") => {}
            Err(e) => return Err(e),
        }
        if Instant::now() > deadline {
            return Err(format!("{css} is still there after {UI_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (bounded by `limit`) until an element's attribute has a value.
pub async fn wait_attr(
    client: &Client,
    css: &str,
    attr: &str,
    want: &str,
    limit: Duration,
) -> Result<(), String> {
    eprintln!("webdriver: waiting for {css} to have {attr}={want:?}");
    let deadline = Instant::now() + limit;
    let mut last = None;
    loop {
        if let Ok(found) = client.find(Locator::Css(css)).await {
            last = found.attr(attr).await.ok().flatten();
            if last.as_deref() == Some(want) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{css} has {attr}={last:?}, not {want:?}, after {limit:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits (bounded) until a form field's current value is `want`.
pub async fn wait_value(client: &Client, css: &str, want: &str) -> Result<(), String> {
    eprintln!("webdriver: waiting for {css} to hold {want:?}");
    let deadline = Instant::now() + UI_TIMEOUT;
    let mut last = None;
    loop {
        if let Ok(found) = client.find(Locator::Css(css)).await {
            last = found.prop("value").await.ok().flatten();
            if last.as_deref() == Some(want) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{css} holds {last:?}, not {want:?}, after {UI_TIMEOUT:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits (bounded) until an element's text contains `want`.
pub async fn wait_text(client: &Client, css: &str, want: &str) -> Result<(), String> {
    eprintln!("webdriver: waiting for {css} to contain {want:?}");
    let deadline = Instant::now() + UI_TIMEOUT;
    let mut last;
    loop {
        last = content_of(client, css).await.unwrap_or_default();
        if last.contains(want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{css} shows {last:?}, not {want:?}, after {UI_TIMEOUT:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Replaces the text of an input field.
pub async fn type_into(client: &Client, css: &str, text: &str) -> Result<(), String> {
    let field = wait_for(client, css).await?;
    bounded(&format!("clearing {css}"), field.clear()).await?;
    if text.is_empty() {
        return Ok(());
    }
    bounded(
        &format!("typing {} chars into {css}", text.len()),
        field.send_keys(text),
    )
    .await
}

pub async fn click(client: &Client, css: &str) -> Result<(), String> {
    let element = wait_for(client, css).await?;
    bounded(&format!("clicking {css}"), element.click()).await
}

/// Waits for an element and returns its text content (WebKitWebDriver's
/// "visible text" comes back empty for cells of the virtualised tables).
pub async fn text_of(client: &Client, css: &str) -> Result<String, String> {
    wait_for(client, css).await?;
    content_of(client, css).await
}

/// The text content of the elements matching `css`, one per line ("" if
/// none).
async fn content_of(client: &Client, css: &str) -> Result<String, String> {
    let v = bounded(
        &format!("reading {css}"),
        client.execute(
            "return Array.from(document.querySelectorAll(arguments[0])).map((e) => e.textContent).join('\\n');",
            vec![serde_json::Value::String(css.to_string())],
        ),
    )
    .await?;
    Ok(v.as_str().unwrap_or_default().trim().to_string())
}

/// Saves the window as assets/screenshots/`name`.
pub async fn screenshot(client: &Client, name: &str) -> Result<(), String> {
    // Let the last update paint.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let png = bounded("taking a screenshot", client.screenshot()).await?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/screenshots");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let shot = dir.join(name);
    std::fs::write(&shot, png).map_err(|e| format!("writing {}: {e}", shot.display()))?;
    eprintln!("webdriver: screenshot saved to {}", shot.display());
    Ok(())
}

/// Saves what the window looked like when a step failed, and prints its HTML.
pub async fn report_failure(client: &Client) {
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
}
