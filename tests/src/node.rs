//! The node process: [`TestNode`] starts the real `ordo` binary with its flags, stops,
//! restarts and kills it, and [`NodeLogs`] prints its logs when a test fails.

use std::{
    fs::File,
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use alloy::{providers::DynProvider, signers::local::PrivateKeySigner};
use eyre::{Context, Result, bail, eyre};

use crate::{
    client::{Rpc, http_provider},
    plugins::PLUGIN_DIR,
};

/// Block time the tests use (ms): short so tests are quick, long enough to batch txs.
pub const TEST_BLOCK_TIME_MS: u64 = 200;
/// How long a node gets to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node gets to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Foundry's `cast` (pinned, installed by `scripts/cast` under the project cache; `ORDO_CAST`
/// overrides it).
pub fn cast_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ORDO_CAST") {
        return PathBuf::from(p);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cast");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(out.status.success(), "{} failed", script.display());
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

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
    /// Start from a copy of this datadir (a chain written beforehand, e.g. by
    /// `ordo bench state`) instead of a fresh one.
    pub seed_datadir: Option<PathBuf>,
    /// Use this datadir instead of one in the node's temp dir.
    pub datadir: Option<PathBuf>,
    /// Keep the config file's RPC and admin addresses (replicas of a group know each
    /// other's), instead of port 0.
    pub own_addresses: bool,
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
            seed_datadir: None,
            datadir: None,
            own_addresses: false,
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
        let datadir = opts.datadir.clone().unwrap_or_else(|| root.join("data"));
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
        if let Some(seed) = &self.opts.seed_datadir
            && !self.datadir.exists()
        {
            copy_dir(seed, &self.datadir)?;
        }
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
        cmd.arg("--datadir").arg(&self.datadir);
        if !self.opts.own_addresses {
            cmd.arg("--rpc-addr")
                .arg("127.0.0.1:0")
                .arg("--admin-addr")
                .arg("127.0.0.1:0");
        }
        cmd.arg("--block-time")
            .arg(self.opts.block_time_ms.to_string())
            // `admin_loadPlugin {path}` reads only this folder: where the build put the
            // test components (a test may point it elsewhere with its own `--set`).
            .arg("--set")
            .arg(format!("plugins.dir={PLUGIN_DIR}"));
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

    /// The options the next [`TestNode::start_again`] or [`TestNode::restart`] uses.
    pub fn opts_mut(&mut self) -> &mut NodeOpts {
        &mut self.opts
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

/// Copies the directory tree `from` to `to` (a closed datadir).
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
