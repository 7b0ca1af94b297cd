//! The operator's config string, and a small parser for `key = value` configs.
//!
//! The host hands every plugin the string it was loaded with (empty when none). The format is
//! the plugin's choice; [`parse_kv`] reads the common case: one `key = value` per line (or
//! separated by `;`), `#` comments, optional quotes, TOML-style `1_000` digit separators.
//!
//! ```
//! let cfg = ordo_sdk::config::parse_kv("window_ms = 100 # ms\nname = \"fair\"").unwrap();
//! assert_eq!(cfg.get_or("window_ms", 250u64).unwrap(), 100);
//! assert_eq!(cfg.get_or("level", 9u32).unwrap(), 9);
//! assert_eq!(cfg.get_str("name"), Some("fair"));
//! ```

use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};
use core::str::FromStr;

use crate::Error;

/// The config string this plugin instance was loaded with (empty when none was given).
///
/// The export macros pass it to the plugin's `new`, so plugins rarely call this themselves.
/// Natively there is no host, and it is empty.
pub fn config() -> String {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::base::ordo::plugin::host::config()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        String::new()
    }
}

/// For a plugin that takes no config: accepts an empty config (or only comments and blank
/// lines) and errors on any `key = value`, so a misplaced setting is reported instead of
/// ignored. The same as `parse_kv(config)?.deny_unknown(&[])`.
///
/// ```
/// assert!(ordo_sdk::config::none("").is_ok());
/// assert!(ordo_sdk::config::none("# nothing to set\n").is_ok());
/// assert!(ordo_sdk::config::none("level = 3").is_err());
/// ```
pub fn none(config: &str) -> Result<(), Error> {
    parse_kv(config)?.deny_unknown(&[])
}

/// Parsed `key = value` pairs, in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvConfig {
    pairs: Vec<(String, String)>,
}

/// Parses `key = value` pairs: one per line or separated by `;`, `#` starts a comment (even
/// inside quotes), blank entries are skipped, values may be quoted with `"` or `'`. A key given twice is an error
/// (an operator's typo should not silently win or lose).
pub fn parse_kv(text: &str) -> Result<KvConfig, Error> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        for entry in line.split(';') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (key, value) = entry.split_once('=').ok_or_else(|| {
                Error::new(format!("config: expected key = value, got {entry:?}"))
            })?;
            let key = key.trim();
            if key.is_empty() {
                return Err(Error::new(format!("config: empty key in {entry:?}")));
            }
            if pairs.iter().any(|(k, _)| k == key) {
                return Err(Error::new(format!("config: {key} given twice")));
            }
            pairs.push((key.to_string(), unquote(value.trim()).to_string()));
        }
    }
    Ok(KvConfig { pairs })
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

impl KvConfig {
    /// The raw value of `key`.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` parsed as `T`; `None` when absent, an error when unparsable.
    pub fn get<T: FromStr>(&self, key: &str) -> Result<Option<T>, Error> {
        let Some(raw) = self.get_str(key) else {
            return Ok(None);
        };
        if let Ok(v) = raw.parse() {
            return Ok(Some(v));
        }
        // TOML digit separators: `1_000_000`.
        if raw.contains('_')
            && let Ok(v) = raw.replace('_', "").parse()
        {
            return Ok(Some(v));
        }
        Err(Error::new(format!(
            "config: {key} = {raw:?} is not a valid {}",
            core::any::type_name::<T>()
        )))
    }

    /// The value of `key` parsed as `T`, or `default` when absent.
    pub fn get_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, Error> {
        Ok(self.get(key)?.unwrap_or(default))
    }

    /// Errors on any key not in `known`, so a misspelt key is reported instead of ignored.
    pub fn deny_unknown(&self, known: &[&str]) -> Result<(), Error> {
        match self
            .pairs
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            Some((k, _)) => Err(Error::new(format!(
                "config: unknown key {k} (known: {})",
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// All pairs, in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether no pair was given.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_semicolons_comments_and_quotes() {
        let cfg =
            parse_kv("# header\nlevel = 5\n\nmode='fast'; window_ms=1_000 # trailing\n").unwrap();
        assert_eq!(cfg.get_or("level", 9u32).unwrap(), 5);
        assert_eq!(cfg.get_str("mode"), Some("fast"));
        assert_eq!(cfg.get::<u64>("window_ms").unwrap(), Some(1000));
        assert_eq!(cfg.get::<u64>("missing").unwrap(), None);
        assert!(cfg.deny_unknown(&["level", "mode", "window_ms"]).is_ok());
        assert!(cfg.deny_unknown(&["level"]).is_err());
    }

    #[test]
    fn rejects_malformed_configs() {
        assert!(parse_kv("level").is_err());
        assert!(parse_kv("= 3").is_err());
        assert!(parse_kv("a=1\na=2").is_err());
        assert!(
            parse_kv("level = high")
                .unwrap()
                .get::<u32>("level")
                .is_err()
        );
        assert!(parse_kv("").unwrap().is_empty());
    }

    #[test]
    fn none_refuses_any_key() {
        assert!(none("").is_ok());
        assert!(none(" # comment\n\n;").is_ok());
        assert!(none("level = 3").is_err());
        assert!(none("level").is_err());
    }
}
