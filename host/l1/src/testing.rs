//! A local L1 for tests: anvil, found via `ORDO_ANVIL` or installed by `scripts/anvil`, on a
//! free 127.0.0.1 port, killed on drop.

#![allow(clippy::expect_used)]

use std::{
    borrow::Cow,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    primitives::B256,
    providers::{Provider, RootProvider},
    signers::local::PrivateKeySigner,
};
use serde_json::{Value, json};

/// anvil's default accounts (mnemonic "test test test test test test test test test test test
/// junk", m/44'/60'/0'/0/i), each funded with 10000 ETH.
const DEV_KEYS: [&str; 10] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// How to start anvil.
#[derive(Clone, Debug, Default)]
pub struct AnvilOptions {
    /// `--block-time`: mine on an interval instead of on every transaction.
    pub block_time: Option<u64>,
    /// `--state`: load from and dump to this file (dumped on a graceful stop; see `restart`).
    pub state: Option<PathBuf>,
    /// `--state-interval` (seconds): also dump the state periodically, so a killed anvil
    /// comes back on what it had a moment before (see `kill_and_restart`).
    pub state_interval: Option<u64>,
    /// `--slots-in-an-epoch`: anvil answers the `finalized` block tag with the head minus two
    /// epochs (`safe`: minus one), so this sets how deep a block must be to be final.
    /// Default 32 (finalized = head - 64).
    pub slots_in_an_epoch: Option<u64>,
    /// `--steps-tracing`: record every step, so geth's default struct logger answers in full
    /// (anvil leaves `structLogs` empty without it).
    pub steps_tracing: bool,
}

/// A running anvil; killed on drop.
#[derive(Debug)]
pub struct Anvil {
    bin: PathBuf,
    port: u16,
    options: AnvilOptions,
    child: Option<Child>,
}

/// The anvil binary: `ORDO_ANVIL`, else whatever `scripts/anvil` installs and prints.
pub fn anvil_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ORDO_ANVIL") {
        return PathBuf::from(p);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/anvil");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(out.status.success(), "{} failed", script.display());
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn free_port() -> u16 {
    // anvil has no `--port 0`: borrow a free port from the OS and hand it over (a race with
    // other processes is possible, hence the retries in `spawn`).
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl AnvilOptions {
    /// An L1 that can be killed and brought back: a block a second, its state dumped every
    /// second to `state` (a kill loses about a block, less than any confirmation depth).
    pub fn restartable(state: PathBuf) -> Self {
        Self {
            block_time: Some(1),
            state: Some(state),
            state_interval: Some(1),
            ..Default::default()
        }
    }
}

impl Anvil {
    pub async fn spawn() -> Self {
        Self::spawn_with(AnvilOptions::default()).await
    }

    pub async fn spawn_with(options: AnvilOptions) -> Self {
        let bin = anvil_binary();
        let mut last = String::new();
        for _ in 0..5 {
            let mut anvil = Self {
                bin: bin.clone(),
                port: free_port(),
                options: options.clone(),
                child: None,
            };
            match anvil.start().await {
                Ok(()) => return anvil,
                Err(e) => last = e,
            }
        }
        panic!("anvil did not start: {last}");
    }

    async fn start(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(&self.bin);
        cmd.args([
            "--host",
            "127.0.0.1",
            "--port",
            &self.port.to_string(),
            "--quiet",
        ]);
        if let Some(t) = self.options.block_time {
            cmd.args(["--block-time", &t.to_string()]);
        }
        if let Some(s) = &self.options.state {
            cmd.arg("--state").arg(s);
        }
        if let Some(i) = self.options.state_interval {
            cmd.args(["--state-interval", &i.to_string()]);
        }
        if let Some(n) = self.options.slots_in_an_epoch {
            cmd.args(["--slots-in-an-epoch", &n.to_string()]);
        }
        if self.options.steps_tracing {
            cmd.arg("--steps-tracing");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(format!(
                    "anvil exited early on port {}: {status}",
                    self.port
                ));
            }
            if self.rpc("eth_chainId", json!([])).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!(
                    "anvil on port {} did not answer eth_chainId",
                    self.port
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILLs anvil at a moment its state file is whole. anvil rewrites the file in place
    /// every `state_interval`; killed in the middle of that, it leaves half a file it then
    /// refuses to start from (a real L1 node's database survives a crash; this stands in for
    /// it). So anvil is stopped, the file checked, and anvil resumed and tried again a
    /// moment later until a stop finds the file whole.
    fn kill_with_state_whole(&mut self) {
        let Some(state) = self.options.state.clone() else {
            return self.kill();
        };
        for _ in 0..100 {
            self.signal("-STOP");
            let whole = std::fs::read(&state)
                .is_ok_and(|bytes| serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok());
            if whole || !state.exists() {
                break;
            }
            self.signal("-CONT");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    /// Stops anvil gracefully (SIGTERM, so `--state` is dumped) and starts it again on the same
    /// port and state file.
    pub async fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while !matches!(c.try_wait(), Ok(Some(_))) {
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let mut last = String::new();
        for _ in 0..20 {
            match self.start().await {
                Ok(()) => return,
                // The old socket may linger for a moment.
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("anvil did not restart: {last}");
    }

    /// Kills anvil outright (SIGKILL: no final dump, its pool is lost) and starts it again on
    /// the same port and on the state it last dumped.
    pub async fn kill_and_restart(&mut self) {
        self.kill_with_state_whole();
        self.start_again().await;
    }

    /// Freezes anvil (SIGSTOP): its port still accepts connections, nothing is answered
    /// (end it with [`Anvil::kill_now`]).
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    fn signal(&self, signal: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args([signal, &c.id().to_string()])
                .status();
        }
    }

    /// Kills anvil outright (SIGKILL, even while frozen); [`Anvil::start_again`] brings it
    /// back on the state it last dumped. Meanwhile its port refuses connections.
    pub fn kill_now(&mut self) {
        self.kill_with_state_whole();
    }

    /// Starts anvil again after [`Anvil::kill_now`], on the same port and saved state.
    pub async fn start_again(&mut self) {
        let mut last = String::new();
        for _ in 0..20 {
            match self.start().await {
                Ok(()) => return,
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("anvil did not restart: {last}");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn provider(&self) -> RootProvider {
        RootProvider::new_http(self.url().parse().expect("url"))
    }

    /// anvil's dev key `i` (0..10).
    pub fn dev_key(i: usize) -> PrivateKeySigner {
        DEV_KEYS[i].parse().expect("dev key")
    }

    /// A raw JSON-RPC call.
    pub async fn rpc(&self, method: &'static str, params: Value) -> Result<Value, String> {
        tokio::time::timeout(
            Duration::from_secs(10),
            self.provider()
                .raw_request::<_, Value>(Cow::Borrowed(method), params),
        )
        .await
        .map_err(|_| format!("{method}: timeout"))?
        .map_err(|e| format!("{method}: {e}"))
    }

    async fn call(&self, method: &'static str, params: Value) -> Value {
        self.rpc(method, params)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn mine(&self, blocks: u64) {
        for _ in 0..blocks {
            self.call("evm_mine", json!([])).await;
        }
    }

    pub async fn set_automine(&self, on: bool) {
        self.call("evm_setAutomine", json!([on])).await;
    }

    pub async fn snapshot(&self) -> Value {
        self.call("evm_snapshot", json!([])).await
    }

    pub async fn revert(&self, id: Value) -> bool {
        self.call("evm_revert", json!([id]))
            .await
            .as_bool()
            .unwrap_or(false)
    }

    pub async fn drop_transaction(&self, hash: B256) {
        self.call("anvil_dropTransaction", json!([hash])).await;
    }

    pub async fn block_number(&self) -> u64 {
        self.provider()
            .get_block_number()
            .await
            .expect("eth_blockNumber")
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.kill();
    }
}
