//! `rpc-compat URL [SUITE_DIR] [FILTER]`: replays the execution-apis suite against a node
//! serving the suite's chain and prints `N passed, M failed, K skipped` with the failing
//! cases (`scripts/rpc-compat` imports the chain, starts the node and runs this). Exits 1
//! when a case fails.

use std::path::PathBuf;

fn main() -> eyre::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or_else(|| eyre::eyre!("usage: rpc-compat URL [SUITE_DIR] [FILTER]"))?;
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/execution-apis/tests")
    });
    let filter = args.next().unwrap_or_default();
    let cases: Vec<_> = ordo_tests::rpc_compat::load_cases(&dir)?
        .into_iter()
        .filter(|c| c.name.contains(&filter))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = runtime.block_on(ordo_tests::rpc_compat::run_all(&url, &cases))?;
    print!("{}", ordo_tests::rpc_compat::report(&results));
    if results
        .iter()
        .any(|(_, o)| matches!(o, ordo_tests::rpc_compat::Outcome::Failed(_)))
    {
        std::process::exit(1);
    }
    Ok(())
}
