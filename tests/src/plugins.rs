//! Plugins: the folder the harness gives the node (the built test components) and admin-API
//! helpers.

use eyre::{Result, eyre};
use serde_json::{Value, json};

use crate::client::Rpc;

/// The node's `plugins.dir` under the harness: where the build put the test components
/// (fixtures, shipped plugins, examples), so `admin_loadPlugin {path}` can read them.
pub const PLUGIN_DIR: &str = ordo_plugin_host::testing::FIXTURES_DIR;

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
