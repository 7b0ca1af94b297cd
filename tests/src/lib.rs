//! Shared helpers for Ordo's end-to-end tests (the tests themselves are in `tests/e2e/`).
//!
//! Flow of a test:
//! 1. [`TestNode::start`] spawns the real `ordo dev` binary ([`ordo_bin`]) on `127.0.0.1:0`
//!    with its datadir in a fresh temp dir, and waits for the one `ORDO_RPC_ADDR=…` line the
//!    node prints on stdout once it serves. The node's stdout and stderr go to files in the
//!    temp dir (`node-<run>.stdout.log`, `node-<run>.stderr.log`).
//! 2. The test talks to it with alloy ([`http_provider`], [`ws_provider`]) or raw JSON-RPC
//!    ([`Rpc`], over the shared `ordo-rpc-client`); transactions are signed by hand where the test needs exact bytes
//!    ([`sign_raw`]).
//! 3. The body runs inside [`NodeLogs::guard`], a failure guard: an `Err`, a timeout or a
//!    panic prints the node's logs (a panic prints them from `TestNode`'s `Drop`).
//! 4. `Drop` SIGKILLs the node; [`TestNode::stop`] is the clean SIGTERM path and
//!    [`TestNode::restart`] / [`TestNode::start_again`] reuse the same datadir.
//!
//! Seams: `ORDO_BIN` overrides the binary path; `ORDO_TEST_LOGS=1` prints the node logs even
//! when a test passes. Timeouts here are failure guards only: no test asserts a wall-clock
//! timing.

use std::{
    fs::File,
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559},
    network::{EthereumWallet, eip2718::Encodable2718},
    primitives::{Address, B256, Bytes, Signature, TxKind, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder, WsConnect},
    rpc::types::TransactionReceipt,
    signers::{SignerSync, local::PrivateKeySigner},
};
use eyre::{Context, Result, bail, eyre};
use serde_json::{Value, json};

/// The dev chain's default chain id (`ordo dev` without `--chain-id`).
pub const DEV_CHAIN_ID: u64 = 7331;
/// The dev mnemonic; accounts m/44'/60'/0'/0/0..9 hold 10000 ETH each on the dev chain.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// Dev account 0 (m/44'/60'/0'/0/0).
pub const DEV_ACCOUNT0: Address =
    alloy::primitives::address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
/// 10000 ETH in wei, the dev accounts' starting balance.
pub const DEV_BALANCE: U256 = alloy::primitives::uint!(10000000000000000000000_U256);
/// The minimum base fee of the dev chain (1 gwei).
pub const GWEI: u128 = 1_000_000_000;
/// 1 ether in wei.
pub const ETHER: u128 = 1_000_000_000_000_000_000;

/// Block time the tests use (ms): short so tests are quick, long enough to batch txs.
pub const TEST_BLOCK_TIME_MS: u64 = 200;
/// How long a node gets to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node gets to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// The 10 dev signers, derived once (PBKDF2 on the mnemonic is slow-ish).
pub fn dev_signers() -> &'static [PrivateKeySigner] {
    static SIGNERS: OnceLock<Vec<PrivateKeySigner>> = OnceLock::new();
    SIGNERS.get_or_init(|| {
        use alloy::signers::local::{MnemonicBuilder, coins_bip39::English};
        let parent = MnemonicBuilder::<English>::default()
            .phrase(DEV_MNEMONIC)
            .build_parent_key()
            .unwrap_or_else(|e| panic!("dev mnemonic: {e}"));
        parent
            .children_from(0)
            .take(10)
            .map(|s| s.unwrap_or_else(|e| panic!("{e}")))
            .collect()
    })
}

/// Dev signer `i` (0..10).
pub fn dev_signer(i: usize) -> PrivateKeySigner {
    dev_signers()[i].clone()
}

// ---------------------------------------------------------------------------------------------
// The node process
// ---------------------------------------------------------------------------------------------

/// Path of the `ordo` binary: `$ORDO_BIN`, else `<dir of the test exe>/../ordo`
/// (tests run from `target/debug/deps`, the binary is `target/debug/ordo`).
pub fn ordo_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ORDO_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let deps = exe
        .parent()
        .unwrap_or_else(|| panic!("test exe has no parent dir"));
    let candidate = deps.join("..").join("ordo");
    if !candidate.exists() {
        panic!(
            "ordo binary not found at {} — build it first (`cargo build -p ordo-node --bin ordo`) \
             or set ORDO_BIN",
            candidate.display()
        );
    }
    candidate
}

/// How to start a node (`ordo dev` flags).
#[derive(Debug, Clone)]
pub struct NodeOpts {
    /// `--block-time` in ms.
    pub block_time_ms: u64,
    /// `--chain-id`.
    pub chain_id: Option<u64>,
    /// `--block-gas-limit`.
    pub block_gas_limit: Option<u64>,
    /// `--genesis FILE`.
    pub genesis: Option<PathBuf>,
    /// `ordo run --config FILE` instead of `ordo dev` (the flags above still apply and
    /// override the file).
    pub config: Option<PathBuf>,
    /// `ordo run` with this TOML text as the config file (written into the node's temp
    /// dir); used when `config` is `None`.
    pub config_toml: Option<String>,
    /// Anything else, appended verbatim.
    pub extra_args: Vec<String>,
    /// Environment variables for the node (after the test's own `ORDO_*` are removed).
    pub env: Vec<(String, String)>,
    /// Start the node with this (soft, hard) limit on open files (through `sh -c ulimit`).
    pub open_files: Option<(u64, u64)>,
}

impl Default for NodeOpts {
    fn default() -> Self {
        Self {
            block_time_ms: TEST_BLOCK_TIME_MS,
            chain_id: None,
            block_gas_limit: None,
            genesis: None,
            config: None,
            config_toml: None,
            extra_args: Vec::new(),
            env: Vec::new(),
            open_files: None,
        }
    }
}

/// A running (or stopped) `ordo dev` process with its own temp dir.
///
/// Dropping it SIGKILLs the process; if the thread is panicking, the node's logs are printed
/// and the temp dir is kept for inspection.
pub struct TestNode {
    // Option so Drop can `keep()` it when a test fails.
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    datadir: PathBuf,
    opts: NodeOpts,
    child: Option<Child>,
    addr: SocketAddr,
    admin_addr: SocketAddr,
    runs: usize,
}

impl std::fmt::Debug for TestNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNode")
            .field("root", &self.root)
            .field("addr", &self.addr)
            .field("runs", &self.runs)
            .finish()
    }
}

impl TestNode {
    /// Starts `ordo dev` with default options (200 ms blocks, dev chain).
    pub async fn dev() -> Result<Self> {
        Self::start(NodeOpts::default()).await
    }

    /// Starts `ordo dev` with `opts` in a fresh temp dir and waits until it serves.
    pub async fn start(opts: NodeOpts) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("ordo-e2e-").tempdir()?;
        let root = dir.path().to_path_buf();
        let datadir = root.join("data");
        let mut node = Self {
            dir: Some(dir),
            root,
            datadir,
            opts,
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            runs: 0,
        };
        if let Err(e) = node.spawn().await {
            node.logs().dump();
            return Err(e);
        }
        Ok(node)
    }

    /// The admin listener's address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The admin API's URL.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin_addr)
    }

    /// `GET /metrics` on the admin listener (with the bearer token): the Prometheus text.
    pub async fn metrics_text(&self) -> Result<String> {
        let resp = reqwest::Client::new()
            .get(format!("{}/metrics", self.admin_url()))
            .bearer_auth(self.admin_token()?)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("GET /metrics: HTTP {}", resp.status());
        }
        Ok(resp.text().await?)
    }

    /// The admin bearer token the node generated in its datadir.
    pub fn admin_token(&self) -> Result<String> {
        let path = self.datadir.join("admin.token");
        Ok(std::fs::read_to_string(&path)
            .wrap_err_with(|| format!("reading {}", path.display()))?
            .trim()
            .to_string())
    }

    /// A JSON-RPC client for the admin API, authenticated with the node's token.
    pub fn admin(&self) -> Result<Rpc> {
        Ok(Rpc::new(&self.admin_url()).with_bearer(&self.admin_token()?))
    }

    /// The temp dir (holds `data/` and the log files). Tests may put files here (genesis).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The node's `--datadir`.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The address the node printed (changes on every start: port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`.
    pub fn http_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `ws://ADDR/`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// The OS pid, if running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// A handle on this node's log files (for [`NodeLogs::guard`]).
    pub fn logs(&self) -> NodeLogs {
        NodeLogs {
            root: self.root.clone(),
        }
    }

    /// An alloy HTTP provider whose wallet signs for `signer`.
    pub fn provider(&self, signer: &PrivateKeySigner) -> DynProvider {
        http_provider(&self.http_url(), signer)
    }

    /// A raw JSON-RPC client for this node (HTTP).
    pub fn rpc(&self) -> Rpc {
        Rpc::new(&self.http_url())
    }

    async fn spawn(&mut self) -> Result<()> {
        self.runs += 1;
        let run = self.runs;
        let stderr_path = self.root.join(format!("node-{run}.stderr.log"));
        let stdout_path = self.root.join(format!("node-{run}.stdout.log"));
        let stderr = File::create(&stderr_path)?;

        let mut cmd = match self.opts.open_files {
            // The shell sets the limits and then becomes the node (same pid).
            Some((soft, hard)) => {
                let mut cmd = Command::new("sh");
                cmd.arg("-c")
                    .arg(format!(
                        "ulimit -S -n {soft} && ulimit -H -n {hard} && exec \"$0\" \"$@\""
                    ))
                    .arg(ordo_bin());
                cmd
            }
            None => Command::new(ordo_bin()),
        };
        let inline = match (&self.opts.config, &self.opts.config_toml) {
            (None, Some(text)) => {
                let path = self.root.join("ordo.toml");
                std::fs::write(&path, text)?;
                Some(path)
            }
            _ => None,
        };
        match self.opts.config.as_ref().or(inline.as_ref()) {
            Some(config) => cmd.arg("run").arg("--config").arg(config),
            None => cmd.arg("dev"),
        };
        cmd.arg("--datadir")
            .arg(&self.datadir)
            .arg("--rpc-addr")
            .arg("127.0.0.1:0")
            .arg("--admin-addr")
            .arg("127.0.0.1:0")
            .arg("--block-time")
            .arg(self.opts.block_time_ms.to_string())
            // `admin_loadPlugin {path}` reads only this folder: where the build put the
            // test components (a test may point it elsewhere with its own `--set`).
            .arg("--set")
            .arg(format!(
                "plugins.dir={}",
                ordo_plugin_host::testing::FIXTURES_DIR
            ));
        if let Some(id) = self.opts.chain_id {
            cmd.arg("--chain-id").arg(id.to_string());
        }
        if let Some(limit) = self.opts.block_gas_limit {
            cmd.arg("--block-gas-limit").arg(limit.to_string());
        }
        if let Some(genesis) = &self.opts.genesis {
            cmd.arg("--genesis").arg(genesis);
        }
        cmd.args(&self.opts.extra_args);
        // Hermetic: the node reads ORDO_* env vars as flag defaults; never inherit them.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ORDO_") {
                cmd.env_remove(key);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        cmd.env("NO_COLOR", "1");
        cmd.envs(self.opts.env.iter().map(|(k, v)| (k, v)));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let mut child = cmd
            .spawn()
            .wrap_err_with(|| format!("spawn {:?}", cmd.get_program()))?;
        let stdout = child.stdout.take().ok_or_else(|| eyre!("no stdout pipe"))?;
        self.child = Some(child);

        // A thread copies stdout to a file (so the pipe never fills up) and reports the
        // address lines (RPC, then admin); EOF before them means the node died.
        let (tx, rx) = tokio::sync::oneshot::channel::<Option<(String, String)>>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut rpc = None;
            let mut out = File::create(&stdout_path).ok();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(f) = out.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                if let Some(addr) = line.trim().strip_prefix("ORDO_RPC_ADDR=") {
                    rpc = Some(addr.to_string());
                }
                if let Some(admin) = line.trim().strip_prefix("ORDO_ADMIN_ADDR=")
                    && let Some(rpc) = rpc.take()
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(Some((rpc, admin.to_string())));
                }
            }
            if let Some(tx) = tx.take() {
                let _ = tx.send(None);
            }
        });

        let (line, admin) = match tokio::time::timeout(START_TIMEOUT, rx).await {
            Ok(Ok(Some(addrs))) => addrs,
            Ok(_) => {
                let status = self.child.as_mut().and_then(|c| c.wait().ok());
                self.child = None;
                bail!("ordo exited before printing ORDO_RPC_ADDR (status {status:?})");
            }
            Err(_) => {
                self.kill();
                bail!("ordo did not print ORDO_RPC_ADDR within {START_TIMEOUT:?}");
            }
        };
        self.addr = line
            .parse()
            .wrap_err_with(|| format!("bad ORDO_RPC_ADDR line {line:?}"))?;
        self.admin_addr = admin
            .parse()
            .wrap_err_with(|| format!("bad ORDO_ADMIN_ADDR line {admin:?}"))?;
        Ok(())
    }

    /// SIGKILL (kill -9) and reap. No-op when not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Clean shutdown: SIGTERM, then wait (up to 30 s; after that SIGKILL and an error).
    pub async fn stop(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("node is not running")
        };
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status()?;
        if !sent.success() {
            let _ = child.kill();
            let _ = child.wait();
            bail!("kill -TERM {pid} failed: {sent}");
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("node did not exit within {STOP_TIMEOUT:?} of SIGTERM (SIGKILLed)");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clean stop (if running) and start again on the same datadir. Returns the exit status
    /// of the stop, if there was a running process.
    pub async fn restart(&mut self) -> Result<Option<ExitStatus>> {
        let status = if self.child.is_some() {
            Some(self.stop().await?)
        } else {
            None
        };
        self.spawn().await?;
        Ok(status)
    }

    /// Start again on the same datadir after [`TestNode::kill`] or [`TestNode::stop`].
    pub async fn start_again(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("node is still running");
        }
        self.spawn().await
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill();
        let failing = std::thread::panicking();
        if failing || std::env::var_os("ORDO_TEST_LOGS").is_some() {
            self.logs().dump();
        }
        if failing && let Some(dir) = self.dir.take() {
            let kept = dir.keep();
            eprintln!("(test failed: node dir kept at {})", kept.display());
        }
    }
}

/// The log files of one [`TestNode`], printable on failure.
#[derive(Debug, Clone)]
pub struct NodeLogs {
    root: PathBuf,
}

impl NodeLogs {
    /// Everything the node has written so far (stderr and stdout of every run).
    pub fn text(&self) -> String {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "log"));
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Prints the tail of every node log file (stderr and stdout of each run) to stderr.
    pub fn dump(&self) {
        const TAIL: usize = 300;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "log"));
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let skip = lines.len().saturating_sub(TAIL);
            eprintln!(
                "===== {} ({} lines, last {}) =====",
                f.display(),
                lines.len(),
                TAIL
            );
            for l in &lines[skip..] {
                eprintln!("{l}");
            }
        }
    }

    /// Runs a test body with a failure-guard timeout; an error or a timeout prints the logs.
    /// (A panic prints them from `TestNode`'s `Drop`.)
    pub async fn guard<F, T>(&self, timeout: Duration, body: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        let res = match tokio::time::timeout(timeout, body).await {
            Ok(r) => r,
            Err(_) => Err(eyre!(
                "test body did not finish within {timeout:?} (failure guard)"
            )),
        };
        if let Err(e) = &res {
            eprintln!("test failed: {e:?}");
            self.dump();
        }
        res
    }
}

// ---------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------

/// An alloy HTTP provider (recommended fillers + a wallet for `signer`), type-erased.
pub fn http_provider(url: &str, signer: &PrivateKeySigner) -> DynProvider {
    let url = url.parse().unwrap_or_else(|e| panic!("bad url {url}: {e}"));
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_http(url)
        .erased()
}

/// An alloy WebSocket provider (for subscriptions), type-erased.
pub async fn ws_provider(url: &str) -> Result<DynProvider> {
    let p = ProviderBuilder::new()
        .connect_ws(WsConnect::new(url))
        .await?;
    Ok(p.erased())
}

/// A JSON-RPC error object (code, message, data): the shared client's.
pub use ordo_rpc_client::RpcError;
use ordo_rpc_client::{ClientError, RpcClient};

/// Raw JSON-RPC over HTTP for byte-exact requests and error checks: a thin wrapper over the
/// shared client (`ordo-rpc-client`) that keeps a node's JSON-RPC error apart from a
/// transport failure (`Ok(Err(rpc error))` vs `Err`).
#[derive(Debug, Clone)]
pub struct Rpc {
    inner: RpcClient,
}

/// A call's outcome as the tests see it: a JSON-RPC error is a value, anything else fails.
fn split(
    r: std::result::Result<Value, ClientError>,
) -> Result<std::result::Result<Value, RpcError>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(ClientError::Rpc(e)) => Ok(Err(e)),
        Err(e) => Err(e.into()),
    }
}

impl Rpc {
    /// A client for `url`.
    pub fn new(url: &str) -> Self {
        let inner = RpcClient::builder(url)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_else(|e| panic!("reqwest client: {e}"));
        Self { inner }
    }

    /// The same client, sending `Authorization: Bearer <token>` (the admin API).
    pub fn with_bearer(mut self, token: &str) -> Self {
        self.inner = self.inner.with_bearer(token);
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        self.inner.url()
    }

    /// POSTs `body` verbatim (Content-Type: application/json); returns status and body text.
    pub async fn post_raw(&self, body: impl Into<String>) -> Result<(reqwest::StatusCode, String)> {
        Ok(self.inner.post_raw(body.into(), &[]).await?)
    }

    /// POSTs a JSON value; returns the parsed JSON response (error if the body is not JSON).
    pub async fn post_json(&self, body: &Value) -> Result<Value> {
        let (status, text) = self.post_raw(body.to_string()).await?;
        serde_json::from_str(&text)
            .wrap_err_with(|| format!("HTTP {status}: response is not JSON: {text:?}"))
    }

    /// One call; `Ok(Ok(result))`, `Ok(Err(rpc error))`, or `Err` for transport problems.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
    ) -> Result<std::result::Result<Value, RpcError>> {
        split(self.inner.call(method, params).await)
    }

    /// One call sent with an `X-Flashbots-Signature` header by `searcher` (EIP-191 over the
    /// hex keccak of the exact body, as Flashbots' tooling signs).
    pub async fn call_signed(
        &self,
        searcher: &PrivateKeySigner,
        method: &str,
        params: Value,
    ) -> Result<std::result::Result<Value, RpcError>> {
        let body = ordo_rpc_client::request(1, method, params).to_string();
        let message = format!("{:#x}", keccak256(body.as_bytes()));
        let signature = searcher.sign_message_sync(message.as_bytes())?;
        let header = format!("{}:{}", searcher.address(), signature);
        split(
            self.inner
                .call_body(body, &[("x-flashbots-signature", &header)])
                .await,
        )
    }

    /// One call that must succeed.
    pub async fn ok(&self, method: &str, params: Value) -> Result<Value> {
        self.call(method, params)
            .await?
            .map_err(|e| eyre!("{method} failed: {e}"))
    }

    /// A batch of calls (ids 0..n); results are returned in call order, matched by id.
    pub async fn batch(
        &self,
        calls: &[(&str, Value)],
    ) -> Result<Vec<std::result::Result<Value, RpcError>>> {
        self.inner
            .batch(calls)
            .await?
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                Err(ClientError::MissingFromBatch) => bail!("batch response lacks id {i}"),
                r => split(r),
            })
            .collect()
    }

    /// `eth_sendRawTransaction` of pre-encoded bytes.
    pub async fn send_raw(&self, raw: &[u8]) -> Result<std::result::Result<B256, RpcError>> {
        let r = self
            .call(
                "eth_sendRawTransaction",
                json!([Bytes::copy_from_slice(raw)]),
            )
            .await?;
        Ok(match r {
            Ok(v) => Ok(serde_json::from_value(v)?),
            Err(e) => Err(e),
        })
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> Result<u64> {
        let v = self.ok("eth_blockNumber", json!([])).await?;
        parse_quantity(&v)
    }
}

/// Splits a JSON-RPC response object into result or error.
pub fn parse_response(resp: &Value) -> Result<std::result::Result<Value, RpcError>> {
    Ok(ordo_rpc_client::parse_response(resp)?)
}

/// Parses a hex quantity (`"0x1a"`).
pub fn parse_quantity(v: &Value) -> Result<u64> {
    let s = v
        .as_str()
        .ok_or_else(|| eyre!("not a string quantity: {v}"))?;
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| eyre!("quantity without 0x: {s}"))?;
    Ok(u64::from_str_radix(hex, 16)?)
}

/// Polls `eth_getTransactionReceipt` until the receipt exists (failure guard: `timeout`).
pub async fn wait_receipt(
    provider: &DynProvider,
    hash: B256,
    timeout: Duration,
) -> Result<TransactionReceipt> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(r) = provider.get_transaction_receipt(hash).await? {
            return Ok(r);
        }
        if Instant::now() > deadline {
            bail!("no receipt for {hash} within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until the head is at least `n`.
pub async fn wait_block(provider: &DynProvider, n: u64, timeout: Duration) -> Result<u64> {
    let deadline = Instant::now() + timeout;
    loop {
        let head = provider.get_block_number().await?;
        if head >= n {
            return Ok(head);
        }
        if Instant::now() > deadline {
            bail!("head stuck at {head}, wanted {n} within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Signing by hand
// ---------------------------------------------------------------------------------------------

/// Signs `tx` with `signer` and returns the EIP-2718 encoding (what `eth_sendRawTransaction`
/// takes) and the transaction hash. Works for every tx type, including ones the node refuses.
pub fn sign_raw<T>(signer: &PrivateKeySigner, tx: T) -> (Bytes, B256)
where
    T: SignableTransaction<Signature>,
    alloy::consensus::Signed<T>: Encodable2718,
{
    let sig = signer
        .sign_hash_sync(&tx.signature_hash())
        .unwrap_or_else(|e| panic!("signing cannot fail for a local key: {e}"));
    let signed = tx.into_signed(sig);
    let raw = signed.encoded_2718();
    // The tx hash is keccak256 of the EIP-2718 encoding (for legacy: of the RLP).
    let hash = keccak256(&raw);
    (raw.into(), hash)
}

/// An EIP-1559 transfer with explicit fields (gas 21000).
pub fn transfer_1559(
    chain_id: u64,
    nonce: u64,
    to: Address,
    value: U256,
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas,
        max_priority_fee_per_gas,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Bytes::new(),
    }
}

/// A random fresh address (no balance, no code).
pub fn random_address() -> Address {
    PrivateKeySigner::random().address()
}

// ---------------------------------------------------------------------------------------------
// The test contract, assembled by hand (no solc needed)
// ---------------------------------------------------------------------------------------------

alloy::sol! {
    /// ABI of the hand-assembled storage contract (see [`store_runtime`]).
    #[sol(rpc)]
    contract Store {
        event Set(uint256 value);
        function set(uint256 value) external;
        function get() external view returns (uint256);
    }
}

/// keccak256("Set(uint256)"), topic 0 of the contract's event.
pub fn set_topic() -> B256 {
    keccak256("Set(uint256)")
}

/// Runtime code of the storage contract.
///
/// Any calldata shorter than 36 bytes (empty, or just `get()`'s selector) returns slot 0;
/// otherwise the word at calldata offset 4 (after a selector, so `set(uint256)` works through
/// the ABI) is stored in slot 0 and `Set(value)` is emitted (LOG1, data = value).
///
/// ```text
/// 00  60 24      PUSH1 36
/// 02  36         CALLDATASIZE
/// 03  10         LT                 ; calldatasize < 36 ?
/// 04  60 38      PUSH1 0x38 (get)
/// 06  57         JUMPI
/// 07  60 04      PUSH1 4
/// 09  35         CALLDATALOAD       ; v = calldata[4..36]
/// 0a  80         DUP1
/// 0b  60 00      PUSH1 0
/// 0d  55         SSTORE             ; slot0 = v
/// 0e  60 00      PUSH1 0
/// 10  52         MSTORE             ; mem[0..32] = v
/// 11  7f <32B>   PUSH32 keccak256("Set(uint256)")
/// 32  60 20      PUSH1 32
/// 34  60 00      PUSH1 0
/// 36  a1         LOG1               ; log1(mem[0..32], topic)
/// 37  00         STOP
/// 38  5b         JUMPDEST           ; get:
/// 39  60 00      PUSH1 0
/// 3b  54         SLOAD
/// 3c  60 00      PUSH1 0
/// 3e  52         MSTORE
/// 3f  60 20      PUSH1 32
/// 41  60 00      PUSH1 0
/// 43  f3         RETURN             ; return mem[0..32]
/// ```
pub fn store_runtime() -> Bytes {
    let mut code = vec![0x60, 0x24, 0x36, 0x10, 0x60, 0x38, 0x57];
    code.extend_from_slice(&[0x60, 0x04, 0x35, 0x80, 0x60, 0x00, 0x55, 0x60, 0x00, 0x52]);
    code.push(0x7f);
    code.extend_from_slice(set_topic().as_slice());
    code.extend_from_slice(&[0x60, 0x20, 0x60, 0x00, 0xa1, 0x00]);
    assert_eq!(code.len(), 0x38, "jump target must be the JUMPDEST");
    code.extend_from_slice(&[
        0x5b, 0x60, 0x00, 0x54, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3,
    ]);
    assert_eq!(code.len(), 0x44);
    code.into()
}

/// The value the constructor stores in slot 0.
pub const STORE_INITIAL: u64 = 7;

/// Init code: stores [`STORE_INITIAL`] in slot 0, then returns [`store_runtime`].
///
/// ```text
/// 00  60 07      PUSH1 7
/// 02  60 00      PUSH1 0
/// 04  55         SSTORE             ; slot0 = 7
/// 05  60 44      PUSH1 len(runtime)
/// 07  80         DUP1
/// 08  60 10      PUSH1 16 (runtime offset = len(init code))
/// 0a  60 00      PUSH1 0
/// 0c  39         CODECOPY           ; mem[0..len] = code[16..16+len]
/// 0d  60 00      PUSH1 0
/// 0f  f3         RETURN             ; return mem[0..len]
/// 10  <runtime>
/// ```
pub fn store_initcode() -> Bytes {
    let runtime = store_runtime();
    let len = u8::try_from(runtime.len()).unwrap_or_else(|_| panic!("runtime < 256 bytes"));
    let mut code = vec![0x60, STORE_INITIAL as u8, 0x60, 0x00, 0x55];
    code.extend_from_slice(&[
        0x60, len, 0x80, 0x60, 0x10, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ]);
    assert_eq!(code.len(), 0x10);
    code.extend_from_slice(&runtime);
    code.into()
}

/// 32-byte big-endian word of `v`.
pub fn word(v: u64) -> B256 {
    B256::from(U256::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_account0_matches_mnemonic() {
        assert_eq!(dev_signer(0).address(), DEV_ACCOUNT0);
        assert_eq!(DEV_BALANCE, U256::from(10_000u64) * U256::from(ETHER));
    }

    #[test]
    fn contract_layout() {
        let rt = store_runtime();
        assert_eq!(rt[0x38], 0x5b);
        let init = store_initcode();
        assert_eq!(&init[0x10..], &rt[..]);
        // The sol! ABI matches the hand-written topic.
        use alloy::sol_types::SolEvent;
        assert_eq!(Store::Set::SIGNATURE_HASH, set_topic());
    }
}

// ---------------------------------------------------------------------------------------------
// Admin and CLI helpers
// ---------------------------------------------------------------------------------------------

/// Activates the loaded plugin whose metadata name is `name` (through the admin API).
pub async fn activate_named(admin: &Rpc, name: &str) -> Result<Value> {
    let list = admin.ok("admin_listPlugins", json!([])).await?;
    let plugin = list["loaded"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p["name"] == name))
        .ok_or_else(|| eyre!("{name} not loaded: {list}"))?;
    admin
        .ok("admin_activatePlugin", json!([{"id": plugin["id"]}]))
        .await
}

/// What a run of `ordo verify` printed.
#[derive(Debug)]
pub struct VerifyRun {
    /// Exit status was success.
    pub success: bool,
    /// Standard output (one line per verified batch, then a summary).
    pub stdout: String,
    /// Standard error (logs, and the error that stopped it).
    pub stderr: String,
}

/// Runs `ordo verify ARGS` to completion.
pub fn ordo_verify(args: &[&str]) -> Result<VerifyRun> {
    let out = std::process::Command::new(ordo_bin())
        .arg("verify")
        .args(args)
        .output()?;
    Ok(VerifyRun {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `ordo verify` that must pass and say so.
pub fn ordo_verify_ok(args: &[&str]) -> Result<VerifyRun> {
    let run = ordo_verify(args)?;
    if !run.success || !run.stdout.contains("verified") {
        bail!("ordo verify failed:\n{}\n{}", run.stdout, run.stderr);
    }
    Ok(run)
}

/// Writes `signer`'s secret as a raw hex key file only its owner can read (the node refuses
/// key files with wider permissions).
pub fn write_key_file(path: &Path, signer: &PrivateKeySigner) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, alloy::primitives::hex::encode(signer.to_bytes()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}
