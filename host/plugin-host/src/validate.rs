//! Static checks on a component's bytes, before anything is compiled: it is a component,
//! it imports only what its kind may import, and it was built against a supported plugin
//! API (the `ordo:plugin-api` custom section the SDK places in the core module). What a
//! kind may import comes from the caller (the kind's contract), never from a branch here.

use wasmparser::{Encoding, Parser, Payload};

use crate::{error::PluginError, info::PluginKind};

/// Name of the custom section carrying the plugin API version the plugin was built for.
pub const API_SECTION: &str = "ordo:plugin-api";
/// The plugin API major.minor this host implements; any patch version is accepted.
pub const API_VERSION: (u64, u64) = (0, 1);

/// Checks imports and the API section of a plugin loaded as `kind`, which may import the
/// `ordo:plugin` interfaces `may_import` (besides `types`). Cheap: one pass over the bytes,
/// no compilation.
pub(crate) fn inspect(
    bytes: &[u8],
    kind: PluginKind,
    may_import: &'static [&'static str],
) -> Result<(), PluginError> {
    let mut stack: Vec<Encoding> = Vec::new();
    let mut forbidden = Vec::new();
    let mut api: Option<String> = None;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| PluginError::Invalid(e.to_string()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if stack.is_empty() && encoding != Encoding::Component {
                    return Err(PluginError::Invalid(
                        "a core wasm module, not a component (build for wasm32-wasip2)".into(),
                    ));
                }
                stack.push(encoding);
            }
            Payload::End(_) => {
                stack.pop();
            }
            // Only the outermost component's imports reach the host; nested components'
            // imports are satisfied inside it.
            Payload::ComponentImportSection(reader) if stack.len() == 1 => {
                for import in reader {
                    let import = import.map_err(|e| PluginError::Invalid(e.to_string()))?;
                    let name = import.name.name;
                    // A type import (a world-level `use`, like `metadata`) carries no
                    // capability; everything else must be an allowed interface.
                    let is_type = matches!(import.ty, wasmparser::ComponentTypeRef::Type(_));
                    if !is_type && !import_allowed(name, may_import) {
                        forbidden.push(name.to_string());
                    }
                }
            }
            Payload::CustomSection(reader)
                if reader.name() == API_SECTION && stack.last() == Some(&Encoding::Module) =>
            {
                api = Some(String::from_utf8_lossy(reader.data()).trim().to_string());
            }
            _ => {}
        }
    }
    if !forbidden.is_empty() {
        return Err(PluginError::ForbiddenImports {
            kind,
            imports: forbidden,
            may_import,
        });
    }
    let Some(version) = api else {
        return Err(PluginError::MissingApiSection);
    };
    if !api_supported(&version) {
        return Err(PluginError::UnsupportedApi(version));
    }
    Ok(())
}

/// `ordo:plugin/<iface>@0.1.x` where `iface` is `types` (it carries only type definitions,
/// so every plugin may import it) or one of `may_import`.
pub(crate) fn import_allowed(name: &str, may_import: &[&str]) -> bool {
    let Some(rest) = name.strip_prefix("ordo:plugin/") else {
        return false;
    };
    let Some((iface, version)) = rest.split_once('@') else {
        return false;
    };
    let iface_ok = iface == "types" || may_import.contains(&iface);
    iface_ok && api_supported(version)
}

fn api_supported(version: &str) -> bool {
    let mut parts = version.split('.');
    let (Some(major), Some(minor), Some(patch), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let num = |s: &str| s.parse::<u64>().ok();
    matches!(
        (num(major), num(minor), num(patch)),
        (Some(ma), Some(mi), Some(_)) if (ma, mi) == API_VERSION
    )
}

/// `[a-z0-9-]{1,64}`: names end up in provenance, metrics labels and log lines.
pub(crate) fn name_valid(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_accept_any_patch_of_0_1() {
        assert!(api_supported("0.1.0"));
        assert!(api_supported("0.1.12"));
        assert!(!api_supported("0.2.0"));
        assert!(!api_supported("1.1.0"));
        assert!(!api_supported("0.1"));
        assert!(!api_supported("0.1.0.0"));
        assert!(!api_supported(""));
    }

    #[test]
    fn names_are_short_lowercase_slugs() {
        assert!(name_valid("priority-fee"));
        assert!(name_valid("a"));
        assert!(!name_valid(""));
        assert!(!name_valid("Bad Name!"));
        assert!(!name_valid(&"a".repeat(65)));
    }

    #[test]
    fn core_modules_and_garbage_are_refused() {
        assert!(matches!(
            inspect(b"\0asm\x01\0\0\0", PluginKind::Ordering, &["host"]),
            Err(PluginError::Invalid(_))
        ));
        assert!(matches!(
            inspect(b"not wasm", PluginKind::Ordering, &["host"]),
            Err(PluginError::Invalid(_))
        ));
    }
}
