//! The execution-apis conformance suite (`tests/vectors/execution-apis`, what geth, reth,
//! Nethermind and Besu are held to): `ordo import` executes the suite's chain from its
//! genesis under the fork schedule (Homestead to Osaka and BPO2) and checks every header,
//! `ordo run --no-sequencing` serves it, and every `.io` case is replayed as hive's
//! `rpc-compat` simulator does ([`ordo_tests::rpc_compat`]).
//!
//! Every case must pass, but the ones in [`KNOWN_FAILURES`] (each with why), which must
//! still fail: a fix that makes one pass removes it from the list. Cases of the methods Ordo
//! does not serve are skipped and reported.

use std::{path::PathBuf, process::Command};

use eyre::{Result, ensure, eyre};
use ordo_tests::{
    rpc_compat::{Outcome, load_cases, report, run_all},
    *,
};

/// Cases that fail today, with why. Shrinks as Ordo closes the gaps; never grows silently.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn suite() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/execution-apis/tests")
}

fn import(datadir: &std::path::Path, genesis: &std::path::Path) -> Result<std::process::Output> {
    Ok(Command::new(ordo_bin())
        .arg("import")
        .arg("--genesis")
        .arg(genesis)
        .arg(suite().join("chain.rlp"))
        .arg("--datadir")
        .arg(datadir)
        .output()?)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_execution_apis_suite_passes_on_its_imported_chain() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let datadir = dir.path().join("chain");
    let out = import(&datadir, &suite().join("genesis.json"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The head the suite expects (hive hands it to clients as a forkchoice update).
    let fcu: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(suite().join("headfcu.json"))?)?;
    let head = fcu["params"][0]["headBlockHash"]
        .as_str()
        .ok_or_else(|| eyre!("headfcu.json has no head"))?;
    ensure!(
        stdout.contains(&format!("imported 54 blocks: head 54 {head}")),
        "{stdout}"
    );
    // Importing again checks the stored blocks and adds nothing.
    let again = import(&datadir, &suite().join("genesis.json"))?;
    ensure!(
        again.status.success()
            && String::from_utf8_lossy(&again.stdout).contains("imported 0 blocks: head 54"),
        "{again:?}"
    );

    let node = TestNode::start(NodeOpts {
        config_toml: Some(String::new()),
        datadir: Some(datadir.clone()),
        extra_args: vec!["--no-sequencing".into()],
        ..Default::default()
    })
    .await?;
    let results = node
        .logs()
        .guard(std::time::Duration::from_secs(300), async {
            run_all(&node.http_url(), &load_cases(&suite())?).await
        })
        .await?;
    println!("{}", report(&results));
    let mut wrong = Vec::new();
    for (name, outcome) in &results {
        let known = KNOWN_FAILURES.iter().any(|(n, _)| n == name);
        match outcome {
            Outcome::Failed(why) if !known => wrong.push(format!("{name} fails: {why}")),
            Outcome::Passed if known => {
                wrong.push(format!("{name} passes now: take it off KNOWN_FAILURES"))
            }
            _ => {}
        }
    }
    ensure!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The read-only node sealed nothing while it served.
    let head = node
        .rpc()
        .ok("eth_blockNumber", serde_json::json!([]))
        .await?;
    ensure!(head == "0x36", "the head moved to {head}");
    Ok(())
}

/// A block whose header says something its execution does not give is refused, naming the
/// field; the blocks before it stay imported.
#[tokio::test]
async fn a_block_that_does_not_execute_to_its_header_is_refused() -> Result<()> {
    use alloy::consensus::{Block, TxEnvelope};
    use alloy_rlp::{Decodable, Encodable};
    let dir = tempfile::tempdir()?;
    let bytes = std::fs::read(suite().join("chain.rlp"))?;
    let mut buf = bytes.as_slice();
    let mut tampered = Vec::new();
    for _ in 0..5 {
        let mut block = Block::<TxEnvelope>::decode(&mut buf)?;
        if block.header.number == 5 {
            block.header.gas_used += 1;
        }
        block.encode(&mut tampered);
    }
    let chain = dir.path().join("chain.rlp");
    std::fs::write(&chain, tampered)?;
    let datadir = dir.path().join("chain");
    let out = Command::new(ordo_bin())
        .arg("import")
        .arg("--genesis")
        .arg(suite().join("genesis.json"))
        .arg(&chain)
        .arg("--datadir")
        .arg(&datadir)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "a tampered block imported");
    ensure!(
        stderr.contains("block 5: gasUsed (given")
            && stderr.contains("differ from the executed block"),
        "{stderr}"
    );
    // Blocks 1 to 4 are stored: the untampered export goes on from there.
    let rest = import(&datadir, &suite().join("genesis.json"))?;
    ensure!(
        String::from_utf8_lossy(&rest.stdout).contains("imported 50 blocks: head 54"),
        "{rest:?}"
    );
    Ok(())
}
