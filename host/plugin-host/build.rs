//! Builds the WASM components the crate embeds and tests against, with nested
//! `cargo build --release --locked --target wasm32-wasip2` runs:
//! - the shipped plugins (`plugins/`, one run per kind so the SDK's per-kind features
//!   never unify; a plugin's kind is the one ordo-sdk kind feature its Cargo.toml enables),
//!   embedded through `src/shipped.rs`;
//! - the examples (`examples/ordering-round-robin`, `examples/searcher-backrun`);
//! - the test fixtures (`host/plugin-host/fixtures/`).
//!
//! Output goes to `$CARGO_TARGET_DIR/wasm` (shared by every profile and by `cargo clippy`,
//! so the components are built once), or under `OUT_DIR` when `CARGO_TARGET_DIR` is unset.
//! A failed nested build fails this build with the nested cargo's output.
//!
//! `ORDO_WASM_TOOLCHAIN` names a rustup toolchain to build the components with instead of
//! the one building this crate. `scripts/fuzz` sets it to the pinned toolchain: the
//! components run under wasmtime, not the fuzzer's instrumentation, and a nightly may ship
//! without the wasm target.

// A build script reports failure by panicking; `expect` is its error handling.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{
    collections::BTreeMap,
    env,
    ffi::OsString,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

const WASM_TARGET: &str = "wasm32-wasip2";
const TOOLCHAIN_VAR: &str = "ORDO_WASM_TOOLCHAIN";

/// The toolchain the components are built with when it is not the one building this crate.
fn wasm_toolchain() -> Option<String> {
    env::var(TOOLCHAIN_VAR).ok().filter(|t| !t.is_empty())
}

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    println!("cargo:rerun-if-env-changed={TOOLCHAIN_VAR}");
    println!("cargo:rerun-if-changed=build.rs");

    let target_dir = match env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir.join("wasm"),
        _ => out_dir.join("wasm"),
    };
    let artifacts = target_dir.join(WASM_TARGET).join("release");
    println!(
        "cargo:rustc-env=ORDO_PLUGIN_HOST_WASM_DIR={}",
        artifacts.display()
    );

    // Sources whose change must rebuild the components.
    watch(&root.join("wit"));
    watch(&root.join("sdk"));

    ensure_wasm_target();

    // (c) Fixtures: always present (they live in this crate).
    let fixtures = manifest_dir.join("fixtures");
    watch(&fixtures);
    cargo_build(&fixtures.join("Cargo.toml"), &[], &target_dir);

    // (a) Shipped plugins, grouped by kind.
    let mut shipped = String::from("const SHIPPED: &[ShippedPlugin] = &[\n");
    let plugins = root.join("plugins");
    let plugins_manifest = plugins.join("Cargo.toml");
    if plugins_manifest.is_file() && plugins.join("Cargo.lock").is_file() {
        watch(&plugins);
        let mut by_kind: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (package, kind) in shipped_packages(&plugins) {
            by_kind.entry(kind).or_default().push(package);
        }
        for (kind, packages) in &by_kind {
            let variant = match kind.as_str() {
                "ordering" => "Ordering",
                "searcher" => "Searcher",
                "compression" => "Compression",
                "prover" => "Prover",
                other => unreachable!("kind_of only returns SDK kinds, not {other:?}"),
            };
            cargo_build(&plugins_manifest, packages, &target_dir);
            for package in packages {
                let wasm = artifacts.join(format!("{}.wasm", package.replace('-', "_")));
                writeln!(
                    shipped,
                    "    ShippedPlugin {{ kind: PluginKind::{variant}, package: {package:?}, bytes: include_bytes!({:?}) }},",
                    wasm.display().to_string()
                )
                .expect("write to String");
            }
        }
    } else {
        // Watch the directory itself so a workspace appearing later is noticed.
        println!("cargo:rerun-if-changed={}", plugins.display());
        println!(
            "cargo:warning=plugins/Cargo.toml or plugins/Cargo.lock missing: no shipped plugins embedded"
        );
    }
    shipped.push_str("];\n");
    fs::write(out_dir.join("shipped.rs"), shipped).expect("write shipped.rs");

    // (b) The examples (each its own workspace), for the tests that load them.
    for (dir, var) in [
        ("ordering-round-robin", "ORDO_PLUGIN_HOST_ROUND_ROBIN_WASM"),
        ("searcher-backrun", "ORDO_PLUGIN_HOST_SEARCHER_BACKRUN_WASM"),
    ] {
        let example = root.join("examples").join(dir);
        if example.join("Cargo.toml").is_file() && example.join("Cargo.lock").is_file() {
            watch(&example);
            cargo_build(&example.join("Cargo.toml"), &[], &target_dir);
            let name = package_name(&example.join("Cargo.toml"));
            println!(
                "cargo:rustc-env={var}={}",
                artifacts
                    .join(format!("{}.wasm", name.replace('-', "_")))
                    .display()
            );
        } else {
            println!("cargo:rerun-if-changed={}", root.join("examples").display());
            println!("cargo:warning=examples/{dir} (with Cargo.lock) missing: example not built");
        }
    }
}

/// Installs the `wasm32-wasip2` standard library when the active toolchain lacks it, so a
/// plain `cargo run` on a fresh machine works (rust-toolchain.toml lists the target, but
/// rustup adds listed targets only when it installs the toolchain itself, not to a
/// toolchain that was already there).
fn ensure_wasm_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let mut print_sysroot = match wasm_toolchain() {
        Some(toolchain) => {
            let mut cmd = Command::new("rustup");
            cmd.args(["run", &toolchain, "rustc"]);
            cmd
        }
        None => Command::new(&rustc),
    };
    let sysroot = print_sysroot
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = |root: &Path| {
        root.join("lib/rustlib")
            .join(WASM_TARGET)
            .join("lib")
            .is_dir()
    };
    if sysroot.as_deref().is_some_and(installed) {
        return;
    }
    println!(
        "cargo:warning=installing the {WASM_TARGET} target with rustup (needed to build the plugins)"
    );
    // RUSTUP_TOOLCHAIN, set by rustup's proxy for this build, makes rustup add the target
    // to the toolchain that is building us.
    let mut add = Command::new("rustup");
    add.args(["target", "add", WASM_TARGET]);
    if let Some(toolchain) = wasm_toolchain() {
        add.args(["--toolchain", &toolchain]);
    }
    let added = add.status();
    match added {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`rustup target add {WASM_TARGET}` failed ({status}); install the target and build again"
        ),
        Err(e) => panic!(
            "the {WASM_TARGET} target is not installed and rustup could not be run ({e}); \
             install the target for this toolchain (`rustup target add {WASM_TARGET}`) and build again"
        ),
    }
}

/// Emits `rerun-if-changed` for every source file under `dir`, skipping build output and
/// hidden directories (a directory entry would make cargo scan `target/` trees too).
fn watch(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            watch(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// The ordo-sdk features naming a plugin kind (one world each).
const KINDS: &[&str] = &["ordering", "searcher", "compression", "prover"];

/// `(package, kind)` for every member of the `plugins/` workspace that depends on `ordo-sdk`;
/// its kind is the one kind feature it enables on that dependency.
fn shipped_packages(plugins: &Path) -> Vec<(String, String)> {
    let workspace = read_toml(&plugins.join("Cargo.toml"));
    let members = workspace
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default();
    let mut dirs = Vec::new();
    for member in members.iter().filter_map(|m| m.as_str()) {
        // Cargo allows globs in members; the only form worth supporting here is `dir/*`.
        if let Some(parent) = member.strip_suffix("/*") {
            if let Ok(entries) = fs::read_dir(plugins.join(parent)) {
                let mut found: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                found.sort();
                dirs.extend(found.into_iter().filter(|p| p.join("Cargo.toml").is_file()));
            }
        } else {
            dirs.push(plugins.join(member));
        }
    }
    let mut out = Vec::new();
    for dir in dirs {
        let path = dir.join("Cargo.toml");
        let manifest = read_toml(&path);
        let Some(name) = manifest
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
        else {
            continue;
        };
        if let Some(kind) = kind_of(&manifest, &workspace, &path) {
            out.push((name.to_string(), kind.to_string()));
        }
    }
    out
}

/// The kind of the plugin whose manifest is `manifest`: the one ordo-sdk kind feature it
/// enables in `[dependencies]` (with `ordo-sdk.workspace = true`, the workspace's features
/// count too). `None` when it does not depend on ordo-sdk; a panic when it enables no kind or
/// several, which would fail its wasm build later with a less clear message.
fn kind_of(manifest: &toml::Table, workspace: &toml::Table, path: &Path) -> Option<&'static str> {
    let deps = manifest.get("dependencies").and_then(|d| d.as_table())?;
    let (key, dep) = deps.iter().find(|(key, dep)| {
        let package = dep.get("package").and_then(|p| p.as_str());
        package.unwrap_or(key.as_str()) == "ordo-sdk"
    })?;
    let features = |dep: &toml::Value| -> Vec<String> {
        dep.get("features")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect()
    };
    let mut enabled = features(dep);
    if dep.get("workspace").and_then(|w| w.as_bool()) == Some(true)
        && let Some(inherited) = workspace
            .get("workspace")
            .and_then(|w| w.get("dependencies"))
            .and_then(|d| d.get(key))
    {
        enabled.extend(features(inherited));
    }
    let kinds: Vec<&'static str> = KINDS
        .iter()
        .copied()
        .filter(|k| enabled.iter().any(|f| f == k))
        .collect();
    match kinds.as_slice() {
        [kind] => Some(kind),
        [] => panic!(
            "{}: ordo-sdk enables no kind feature (one of {KINDS:?})",
            path.display()
        ),
        several => panic!(
            "{}: ordo-sdk enables several kind features {several:?}; a plugin has exactly one",
            path.display()
        ),
    }
}

fn package_name(manifest: &Path) -> String {
    read_toml(manifest)
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or_else(|| panic!("{}: no package name", manifest.display()))
        .to_string()
}

fn read_toml(path: &Path) -> toml::Table {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Environment the outer build sets that must not reach the nested one: flags and
/// wrappers meant for host code (clippy's workspace wrapper, coverage RUSTFLAGS), the
/// outer target selection and output dir, and build-script variables that describe the
/// outer package. The jobserver (`CARGO_MAKEFLAGS`), `RUSTC_WRAPPER` (sccache) and the
/// toolchain selection are kept.
fn scrubbed(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "RUSTC_LINKER",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
        "__CARGO_FIX_PLZ",
        "__CARGO_DEFAULT_LIB_METADATA",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_PKG_",
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_TARGET_",
        "CARGO_PROFILE_",
        "CARGO_LLVM_COV",
        "DEP_",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

fn cargo_build(manifest: &Path, packages: &[String], target_dir: &Path) {
    let mut cmd = match wasm_toolchain() {
        Some(toolchain) => {
            let mut cmd = Command::new("rustup");
            cmd.args(["run", &toolchain, "cargo"]);
            // The building toolchain's own tools would otherwise be inherited.
            for name in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN"] {
                cmd.env_remove(name);
            }
            cmd
        }
        None => Command::new(env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))),
    };
    cmd.arg("build")
        .arg("--release")
        .arg("--locked")
        .arg("--target")
        .arg(WASM_TARGET)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir);
    for package in packages {
        cmd.arg("-p").arg(package);
    }
    for (name, _) in env::vars_os() {
        if let Some(name) = name.to_str()
            && scrubbed(name)
        {
            cmd.env_remove(name);
        }
    }
    cmd.env("CARGO_TERM_COLOR", "never");
    if let Some(dir) = manifest.parent() {
        cmd.current_dir(dir);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running cargo for {}: {e}", manifest.display()));
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stdout));
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        panic!(
            "nested wasm build failed: cargo build --release --locked --target {WASM_TARGET} --manifest-path {}{} (output above)",
            manifest.display(),
            packages
                .iter()
                .map(|p| format!(" -p {p}"))
                .collect::<String>()
        );
    }
}
