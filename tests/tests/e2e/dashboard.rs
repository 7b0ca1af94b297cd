//! `GET /ui`, driven by headless Chromium through chromedriver: the page shows the current
//! head block number and, after a search, a submitted transaction's hash and status. A
//! screenshot is kept in `$ORDO_TEST_ARTIFACTS` (scripts/test: `<target>/test-artifacts`).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy::providers::Provider;
use alloy::{network::TransactionBuilder, primitives::U256, rpc::types::TransactionRequest};
use eyre::{Result, WrapErr, ensure, eyre};
use fantoccini::{ClientBuilder, Locator};
use ordo_tests::*;
use serde_json::json;

use crate::{GUARD, RECEIPT};

/// A chromedriver on a free loopback port; killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(fallback))
}

async fn start_driver() -> Result<Driver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let bin = tool("ORDO_CHROMEDRIVER", "chromedriver");
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .wrap_err_with(|| {
            format!(
                "starting {} (install it with scripts/chromium)",
                bin.display()
            )
        })?;
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{}/status", driver.url)).await
            && r.status().is_success()
        {
            return Ok(driver);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A headless Chromium session through `driver`, with a fresh profile in `profile`.
async fn open_browser(driver: &Driver, profile: &std::path::Path) -> Result<fantoccini::Client> {
    let chromium = tool("ORDO_CHROMIUM", "chromium");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .wrap_err("opening a Chromium session")
}

/// Runs `body` with a headless Chromium session (a fresh chromedriver and profile), closing it
/// whatever `body` returns.
async fn in_browser(body: impl AsyncFnOnce(&fantoccini::Client) -> Result<()>) -> Result<()> {
    let driver = start_driver().await?;
    let profile = tempfile::tempdir()?;
    let browser = open_browser(&driver, profile.path()).await?;
    let outcome = body(&browser).await;
    let _ = browser.close().await;
    drop(driver);
    outcome.map_err(|e| eyre!("{e:?}"))
}

/// Saves a screenshot of `browser` as `name` in `$ORDO_TEST_ARTIFACTS`.
async fn keep_screenshot(browser: &fantoccini::Client, name: &str) -> Result<()> {
    let shot = browser.screenshot().await?;
    let dir = std::env::var_os("ORDO_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("ordo-test-artifacts"));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(name);
    std::fs::write(&file, &shot)?;
    ensure!(shot.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    eprintln!("dashboard screenshot: {}", file.display());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_the_head_and_finds_a_submitted_transaction() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let p = node.provider(&dev_signer(2));
            let tx = TransactionRequest::default()
                .with_to(random_address())
                .with_value(U256::from(42));
            let hash = *p.send_transaction(tx).await?.tx_hash();
            wait_receipt(&p, hash, RECEIPT).await?;

            in_browser(async |browser| {
                let page = format!("{}ui", node.http_url());
                browser.goto(&page).await?;
                // The head shown is the node's: it catches up with what the RPC said before
                // the read and is never ahead of what it says after.
                let rpc = node.rpc();
                let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                loop {
                    let before = rpc.block_number().await?;
                    let shown = browser
                        .find(Locator::Css("#head-number"))
                        .await?
                        .text()
                        .await?;
                    let after = rpc.block_number().await?;
                    if let Ok(shown) = shown.trim().parse::<u64>()
                        && shown >= before
                    {
                        ensure!(shown <= after, "page shows {shown}, node is at {after}");
                        break;
                    }
                    ensure!(
                        tokio::time::Instant::now() < deadline,
                        "the page never showed the head (shows {shown:?}, node at {before})"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }

                let input = browser.find(Locator::Css("#search-input")).await?;
                input.send_keys(&hash.to_string()).await?;
                browser
                    .find(Locator::Css("#search-button"))
                    .await?
                    .click()
                    .await?;
                let found = browser
                    .wait()
                    .at_most(Duration::from_secs(30))
                    .for_element(Locator::Css("#search-tx"))
                    .await?
                    .text()
                    .await?;
                ensure!(
                    found
                        .to_lowercase()
                        .contains(&hash.to_string().to_lowercase()),
                    "search result: {found}"
                );
                ensure!(
                    found.contains("status") && !found.contains("unknown"),
                    "search result carries the status: {found}"
                );

                keep_screenshot(browser, "dashboard.png").await?;
                Ok(())
            })
            .await
        })
        .await
}

/// What a chart shows now: its `data-points`, `data-last` and `data-max` (see `ui/charts.js`).
async fn chart(
    browser: &fantoccini::Client,
    id: &str,
) -> Result<(u64, serde_json::Value, serde_json::Value)> {
    let el = browser.find(Locator::Id(id)).await?;
    let points = el
        .attr("data-points")
        .await?
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let parse = |v: Option<String>| -> serde_json::Value {
        v.and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    Ok((
        points,
        parse(el.attr("data-last").await?),
        parse(el.attr("data-max").await?),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_charts_render_and_move_when_load_arrives() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            in_browser(async |browser| {
                browser.goto(&format!("{}ui", node.http_url())).await?;
                let charts = [
                    "chart-throughput",
                    "chart-stages",
                    "chart-inclusion",
                    "chart-mempool",
                    "chart-plugins",
                    "chart-backlog",
                ];
                // Every chart is drawn (uPlot's canvas) and collects samples while idle.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                for id in charts {
                    let canvas = browser
                        .wait()
                        .at_most(Duration::from_secs(30))
                        .for_element(Locator::Css(&format!("#{id} canvas")))
                        .await?;
                    let width: u64 = canvas
                        .attr("width")
                        .await?
                        .and_then(|w| w.parse().ok())
                        .unwrap_or(0);
                    ensure!(width > 0, "{id}: an empty canvas");
                    while chart(browser, id).await?.0 < 3 {
                        ensure!(
                            tokio::time::Instant::now() < deadline,
                            "{id} collects no samples"
                        );
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                let (_, _, idle) = chart(browser, "chart-throughput").await?;
                ensure!(idle["tx/s"] == 0.0, "tx/s before any load: {idle}");

                // Load: transfers from several senders; the charts follow.
                let rpc = node.rpc();
                let mut hashes = Vec::new();
                for round in 0..10u64 {
                    for account in 5..8usize {
                        let (raw, hash) = sign_raw(
                            &dev_signer(account),
                            transfer_1559(
                                DEV_CHAIN_ID,
                                round,
                                random_address(),
                                U256::from(1),
                                10 * GWEI,
                                GWEI,
                            ),
                        );
                        rpc.send_raw(&raw).await?.map_err(|e| eyre!("{e:?}"))?;
                        hashes.push(hash);
                    }
                }
                let p = node.provider(&dev_signer(5));
                for hash in hashes {
                    wait_receipt(&p, hash, RECEIPT).await?;
                }
                let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                loop {
                    let (_, _, throughput) = chart(browser, "chart-throughput").await?;
                    let (_, stages, _) = chart(browser, "chart-stages").await?;
                    let (_, _, inclusion) = chart(browser, "chart-inclusion").await?;
                    let moved = throughput["tx/s"].as_f64().is_some_and(|v| v > 0.0)
                        && throughput["Mgas/s"].as_f64().is_some_and(|v| v > 0.0)
                        && inclusion["p99"].as_f64().is_some_and(|v| v > 0.0)
                        && stages.get("execution").is_some();
                    if moved {
                        break;
                    }
                    ensure!(
                        tokio::time::Instant::now() < deadline,
                        "the charts did not move: {throughput} {stages} {inclusion}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                let (_, plugins, _) = chart(browser, "chart-plugins").await?;
                ensure!(
                    plugins.as_object().is_some_and(|p| !p.is_empty()),
                    "no plugin series: {plugins}"
                );
                keep_screenshot(browser, "dashboard-charts.png").await?;
                Ok(())
            })
            .await
        })
        .await
}
