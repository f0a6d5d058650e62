//! "Why is it slow?" in the window: three torrents, each held back by a
//! different cause, show it in the list's state column (its tooltip) and
//! in the Overview tab — no peers known, a peer that refuses our dials,
//! and a seeder that is simply slow.

use std::path::Path;

use fantoccini::Client;
use shoal::torrent::AddTorrent;
use shoal::Magnet;

use super::steps::{
    click, screenshot, type_into, wait_attr, wait_gone, wait_text, Ctx, TRANSFER_TIMEOUT,
    UI_TIMEOUT,
};

/// What the seeder of the slow torrent sends, bytes per second: slow
/// enough that the download runs for the whole step.
const SLOW_SEEDER: u64 = 32 * 1024;

pub async fn run(c: &Client, ctx: &Ctx<'_>) -> Result<(), String> {
    // 1. A magnet with no tracker and no peer, the DHT off: no peers.
    let lonely = Magnet {
        display_name: Some("lonely".into()),
        ..Magnet::new(shoal::InfoHash([0x3a; 20]))
    };
    add_magnet(c, &lonely.to_uri()).await?;
    let row = format!("tr[data-id='{}']", lonely.info_hash.to_hex());
    let state = format!("{row} td.state");
    wait_attr(c, &state, "data-cause", "noPeers", UI_TIMEOUT).await?;
    tooltip_has(
        c,
        &state,
        &["No peers known", "The DHT is off.", "Fix: Turn on the DHT"],
    )
    .await?;

    // 2. A magnet whose only peer refuses connections: unreachable.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let dead_addr = dead.local_addr().map_err(|e| e.to_string())?;
    drop(dead);
    let refused = Magnet {
        display_name: Some("refused".into()),
        peers: vec![dead_addr.to_string()],
        ..Magnet::new(shoal::InfoHash([0x3b; 20]))
    };
    add_magnet(c, &refused.to_uri()).await?;
    let row = format!("tr[data-id='{}']", refused.info_hash.to_hex());
    let state = format!("{row} td.state");
    wait_attr(c, &state, "data-cause", "peersUnreachable", UI_TIMEOUT).await?;
    tooltip_has(c, &state, &["Peers known but none reachable", "refused"]).await?;
    click(c, &format!("{row} td.name")).await?;
    click(c, "#tab-overview").await?;
    wait_text(c, "#diagnosis-title", "Peers known but none reachable").await?;
    wait_text(c, "#diagnosis-evidence", "1 peer known").await?;
    wait_text(c, "#diagnosis-fix", "Fix: ").await?;

    // 3. A torrent from a seeder of the test that sends slowly: nothing
    // wrong, the peer is simply this fast.
    let slow = slow_seed(ctx).await?;
    let magnet = Magnet {
        display_name: Some("slow".into()),
        peers: vec![ctx.seeder.addr.to_string()],
        ..Magnet::new(slow)
    };
    add_magnet(c, &magnet.to_uri()).await?;
    let row = format!("tr[data-id='{}']", slow.to_hex());
    let state = format!("{row} td.state");
    wait_attr(c, &state, "data-cause", "fine", TRANSFER_TIMEOUT).await?;
    click(c, &format!("{row} td.name")).await?;
    wait_text(c, "#diagnosis-title", "Nothing wrong").await?;
    wait_text(c, "#diagnosis-evidence", "1 of 1 connected peer send to us").await?;
    screenshot(c, "diagnosis.png").await?;

    // The three go again, so the steps after find the list as it was.
    for hash in [lonely.info_hash, refused.info_hash, slow] {
        let row = format!("tr[data-id='{}']", hash.to_hex());
        click(c, &format!("{row} td.name")).await?;
        click(c, "#remove").await?;
        click(c, "#remove-confirm").await?;
        wait_gone(c, &row).await?;
    }
    Ok(())
}

async fn add_magnet(c: &Client, uri: &str) -> Result<(), String> {
    click(c, "#add-magnet").await?;
    type_into(c, "#magnet-uri", uri).await?;
    click(c, "#magnet-add").await
}

/// Waits until the tooltip (`title`) of `css` holds every piece of `want`.
async fn tooltip_has(c: &Client, css: &str, want: &[&str]) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..100 {
        let el = c
            .find(fantoccini::Locator::Css(css))
            .await
            .map_err(|e| format!("{css}: {e}"))?;
        last = el
            .attr("title")
            .await
            .map_err(|e| format!("{css}: {e}"))?
            .unwrap_or_default();
        if want.iter().all(|w| last.contains(w)) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!("the tooltip of {css} lacks {want:?}: {last:?}"))
}

/// A payload of 4 MiB seeded by the test's session at `SLOW_SEEDER`
/// bytes per second; its info hash.
async fn slow_seed(ctx: &Ctx<'_>) -> Result<shoal::InfoHash, String> {
    let dir = ctx.work.join("slow-src");
    let content = dir.join("slow");
    std::fs::create_dir_all(&content).map_err(|e| e.to_string())?;
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(content.join("slow.bin"), data).map_err(|e| e.to_string())?;
    let meta = shoal::create::create_torrent(&content, &Default::default(), |_, _| {})
        .map_err(|e| e.to_string())?;
    let hash = meta.info_hash;
    let mut add = AddTorrent::new(meta, Path::new(&dir));
    add.upload_limit = Some(SLOW_SEEDER);
    let h = ctx
        .seeder
        .session
        .add_torrent(add)
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while h.stats().state != shoal::torrent::TorrentState::Seeding {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .map_err(|_| "the slow seeder did not start seeding".to_string())?;
    Ok(hash)
}
