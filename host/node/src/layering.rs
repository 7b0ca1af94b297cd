//! Config layering: the defaults, then the TOML file, then `ORDO_*` environment variables,
//! then `--set key.path=value` flags, merged as TOML tables and deserialized once, so an
//! unknown key or a bad value is an error naming the key whichever layer it came from.
//! And the way back: the effective configuration as TOML (`ordo config`).

use std::path::Path;

use eyre::{WrapErr, eyre};

use crate::config::NodeConfig;

impl NodeConfig {
    /// Reads a TOML config file; unknown keys and bad values are errors naming the key.
    pub fn from_file(path: &Path) -> eyre::Result<Self> {
        Self::layered(Some(path), std::iter::empty(), &[])
    }

    /// The configuration from, lowest first: the defaults, the TOML `file`, `ORDO_*`
    /// environment variables (`ORDO_` + the key path in capitals joined by `_`, e.g.
    /// `ORDO_L1_CONFIRMATIONS`), then `--set key.path=value` overrides. Values are TOML
    /// (`5`, `true`, `"text"`; bare text is a string). An unknown key or a bad value is an
    /// error naming the key.
    pub fn layered(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        sets: &[String],
    ) -> eyre::Result<Self> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .wrap_err_with(|| format!("reading config {}", path.display()))?;
                toml::from_str::<toml::Table>(&text)
                    .map_err(|e| eyre!("config {}: {e}", path.display()))?
            }
            None => toml::Table::new(),
        };
        let keys = Self::keys();
        for (name, value) in env {
            if let Some(path) = keys.iter().find(|k| env_name(k) == name) {
                set_path(&mut table, path, toml_value(&value));
            }
        }
        for set in sets {
            let (key, value) = set
                .split_once('=')
                .ok_or_else(|| eyre!("--set {set:?}: expected key.path=value"))?;
            let path: Vec<String> = key.trim().split('.').map(str::to_string).collect();
            if !keys.contains(&path) {
                eyre::bail!("--set: unknown configuration key `{}`", key.trim());
            }
            set_path(&mut table, &path, toml_value(value.trim()));
        }
        let source = file.map_or("configuration".to_string(), |p| p.display().to_string());
        let config: Self =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                eyre!("{source}: key `{key}`: {}", e.into_inner())
            })?;
        config
            .plugins
            .limits
            .validate()
            .map_err(|e| eyre!("{source}: {e}"))?;
        config
            .rpc
            .trusted_proxies()
            .map_err(|e| eyre!("{source}: {e}"))?;
        let (nice, range) = (config.builder.thread_nice, ordo_exec::BLOCK_NICE_RANGE);
        if !range.contains(&nice) {
            return Err(eyre!(
                "{source}: [builder] thread_nice must be between {} and {}, not {nice}",
                range.start(),
                range.end()
            ));
        }
        Ok(config)
    }

    /// Every configuration key, as paths (`["l1", "confirmations"]`). Lists (plugins.load)
    /// are one key.
    pub fn keys() -> Vec<Vec<String>> {
        fn walk(v: &serde_json::Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        prefix.push(k.clone());
                        walk(v, prefix, out);
                        prefix.pop();
                    }
                }
                _ => out.push(prefix.clone()),
            }
        }
        let mut out = Vec::new();
        if let Ok(v) = serde_json::to_value(Self::default()) {
            walk(&v, &mut Vec::new(), &mut out);
        }
        out
    }

    /// The configuration as TOML, every key shown (unset optional keys as comments).
    pub fn to_toml(&self) -> eyre::Result<String> {
        let json = serde_json::to_value(self)?;
        let mut unset = Vec::new();
        let value = json_to_toml(&json, &mut Vec::new(), &mut unset)
            .ok_or_else(|| eyre!("configuration is not a table"))?;
        let mut text = toml::to_string_pretty(&value)?;
        if !unset.is_empty() {
            text.push_str("\n# Not set:\n");
            for key in unset {
                text.push_str(&format!("# {key}\n"));
            }
        }
        Ok(text)
    }
}

/// `ORDO_` + the key path in capitals joined by `_`.
fn env_name(path: &[String]) -> String {
    format!("ORDO_{}", path.join("_").to_uppercase())
}

/// A value given as text: TOML if it parses as one (`5`, `true`, `"x"`, `[1, 2]`), else the
/// text itself as a string.
fn toml_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        t = next;
    }
    t.insert(last.clone(), value);
}

/// JSON to TOML for printing; nulls (unset options) are left out and listed in `unset`.
fn json_to_toml(
    v: &serde_json::Value,
    path: &mut Vec<String>,
    unset: &mut Vec<String>,
) -> Option<toml::Value> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => {
            unset.push(path.join("."));
            return None;
        }
        J::Bool(b) => toml::Value::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            // Beyond i64 (u128 fee caps): TOML has no such integer; keep the digits.
            None => toml::Value::String(n.to_string()),
        },
        J::String(s) => toml::Value::String(s.clone()),
        J::Array(items) => toml::Value::Array(
            items
                .iter()
                .filter_map(|i| json_to_toml(i, path, unset))
                .collect(),
        ),
        J::Object(map) => {
            let mut t = toml::Table::new();
            for (k, v) in map {
                path.push(k.clone());
                if let Some(v) = json_to_toml(v, path, unset) {
                    t.insert(k.clone(), v);
                }
                path.pop();
            }
            toml::Value::Table(t)
        }
    })
}
