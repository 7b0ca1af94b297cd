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

            let driver = start_driver().await?;
            let profile = tempfile::tempdir()?;
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
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                }),
            );
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let browser = ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&driver.url)
                .await
                .wrap_err("opening a Chromium session")?;
            let outcome = async {
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

                let shot = browser.screenshot().await?;
                let dir = std::env::var_os("ORDO_TEST_ARTIFACTS")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| std::env::temp_dir().join("ordo-test-artifacts"));
                std::fs::create_dir_all(&dir)?;
                let file = dir.join("dashboard.png");
                std::fs::write(&file, &shot)?;
                ensure!(shot.starts_with(b"\x89PNG"), "the screenshot is a PNG");
                eprintln!("dashboard screenshot: {}", file.display());
                Ok::<(), eyre::Report>(())
            }
            .await;
            let _ = browser.close().await;
            drop(driver);
            outcome.map_err(|e| eyre!("{e:?}"))
        })
        .await
}
