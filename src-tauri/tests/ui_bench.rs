//! How the window copes with a big session: feeds the real window (under
//! Xvfb, through WebDriver) synthetic updates of 20, 200 and 1,000
//! torrents with the selected one's Peers tab showing 50 or 500 peers,
//! every row and peer changing on every update, and prints the time from
//! each update to the second painted frame after it. A benchmark, not a
//! test: ignored by `cargo test`, run by `make bench-ui`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::desktop::{Driver, Sandbox, Xvfb};

#[test]
#[ignore = "benchmark: make bench-ui"]
fn window_with_up_to_1000_torrents_and_500_peers() {
    // Inherited by tauri-driver, WebKitWebDriver and the app.
    std::env::set_var("SHOAL_UI_BENCH", "1");
    let xvfb = Xvfb::start();
    let sandbox = Sandbox::new();
    let driver = Driver::start(&xvfb, &sandbox);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let app = PathBuf::from(env!("CARGO_BIN_EXE_shoal-desktop"));
    runtime.block_on(async {
        let client = driver.session(&app, &[]).await;
        let run = async {
            // Wait for the hook (set once the window has its start-up facts).
            for _ in 0..100 {
                let ready = client
                    .execute("return typeof window.__shoalBench === 'function';", vec![])
                    .await
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                if ready {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            for (torrents, peers) in [(20, 50), (200, 500), (200, 500), (1000, 500), (1000, 500)] {
                let result = client
                    .execute_async(
                        "const done = arguments[arguments.length - 1];
                         window.__shoalBench(arguments[0], arguments[1], 40).then(done);",
                        vec![torrents.into(), peers.into()],
                    )
                    .await
                    .expect("the bench hook failed");
                println!("ui-bench: {torrents} torrents, {peers} peers, 40 updates: {result}");
            }
        };
        tokio::time::timeout(Duration::from_secs(300), run)
            .await
            .expect("the benchmark did not finish in time");
        let _ = tokio::time::timeout(Duration::from_secs(20), client.close()).await;
    });
    drop(driver);
    drop(xvfb);
}
