//! The workspace's shape, checked: no crate depends on the node, and no two source files of a
//! crate import each other, directly or round a longer circle.
//!
//! A file imports another when it names something defined there: a `use` of a path inside
//! the crate, or a path in code that starts at `crate`, `super`, `self` or a child module.
//! Paths are resolved through `use` re-exports to the file that defines the item, so
//! `lib.rs` re-exporting `foo::Bar` and `bar.rs` using `crate::Bar` is `bar.rs → foo.rs`.
//! Declaring a module (`mod foo;`) is not an import.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
};

use syn::visit::Visit;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every package of the workspace: its directory.
fn packages() -> Vec<PathBuf> {
    let root = workspace();
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| root.join(m.as_str().unwrap()))
        .collect()
}

/// Every package in the repository, inside the workspace or not (the SDK, shipped plugins,
/// examples and test fixtures are workspaces of their own).
fn all_packages() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        if dir.join("Cargo.toml").exists() && dir.join("src").is_dir() {
            out.push(dir.to_path_buf());
        }
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            if path.is_dir() && !name.starts_with('.') && name != "target" {
                walk(&path, out);
            }
        }
    }
    let mut out = vec![];
    walk(&workspace(), &mut out);
    out
}

#[test]
fn no_crate_depends_on_the_node() {
    for dir in packages() {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let manifest: toml::Value = toml::from_str(&text).unwrap();
        if manifest["package"]["name"].as_str() == Some("ordo-node") {
            continue;
        }
        for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
            if let Some(deps) = manifest.get(table).and_then(|t| t.as_table()) {
                assert!(
                    !deps.contains_key("ordo-node"),
                    "{} lists ordo-node in [{table}]",
                    dir.display()
                );
            }
        }
    }
}

/// One module of a crate: the file it lives in and what it binds.
#[derive(Default, Debug)]
struct Module {
    file: PathBuf,
    children: BTreeSet<String>,
    /// Items defined here (types, functions, traits, consts, statics, macros).
    items: BTreeSet<String>,
    /// `use` bindings: name → absolute path (crate-relative segments).
    uses: BTreeMap<String, Vec<String>>,
    /// `use path::*` targets, absolute.
    globs: Vec<Vec<String>>,
}

/// A crate's module tree, keyed by module path (`[]` is the root).
#[derive(Default)]
struct Crate {
    modules: BTreeMap<Vec<String>, Module>,
    /// Paths named in each file, absolute, with the module they were written in.
    refs: Vec<(PathBuf, Vec<String>)>,
}

/// Makes `path` (as written in module `at`) absolute: `crate::`, `super::`, `self::`, or a
/// name bound in `at`. `None` for paths into other crates or the prelude.
fn absolute(krate: &Crate, at: &[String], path: &[String]) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => vec![],
        "self" => at.to_vec(),
        "super" => {
            let mut base = at.to_vec();
            base.pop();
            let mut rest = rest;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            return Some(base);
        }
        name => {
            let module = krate.modules.get(at)?;
            if module.children.contains(name) {
                let mut base = at.to_vec();
                base.push(name.to_string());
                base
            } else if let Some(bound) = module.uses.get(name) {
                bound.clone()
            } else {
                return None;
            }
        }
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The file that defines what the absolute `path` names, following re-exports. `strict`
/// (looking through a glob import): `None` unless the name is really there.
fn resolve(krate: &Crate, path: &[String], depth: usize, strict: bool) -> Option<PathBuf> {
    if depth > 16 {
        return None;
    }
    let mut at: Vec<String> = vec![];
    for (i, segment) in path.iter().enumerate() {
        let module = krate.modules.get(&at)?;
        if module.children.contains(segment) {
            at.push(segment.clone());
            continue;
        }
        if module.items.contains(segment) {
            return Some(module.file.clone());
        }
        if let Some(bound) = module.uses.get(segment) {
            let mut target = bound.clone();
            target.extend(path[i + 1..].iter().cloned());
            return resolve(krate, &target, depth + 1, strict);
        }
        for glob in &module.globs {
            let mut target = glob.clone();
            target.extend(path[i..].iter().cloned());
            if let Some(file) = resolve(krate, &target, depth + 1, true) {
                return Some(file);
            }
        }
        // Not a name this module binds (a macro, or something this reader does not model):
        // count it as the module's own, except when only probing a glob.
        return (!strict).then(|| module.file.clone());
    }
    krate.modules.get(&at).map(|m| m.file.clone())
}

/// Flattens a `use` tree into (bound name or `*`, path) pairs.
fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last() {
                    out.push((last.clone(), prefix.clone()));
                }
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push((name, path));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            let ident = r.ident.to_string();
            if ident != "self" {
                path.push(ident);
            }
            out.push((r.rename.to_string(), path));
        }
        syn::UseTree::Glob(_) => out.push(("*".into(), prefix.clone())),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                flatten(tree, prefix, out);
            }
        }
    }
}

/// Reads the module at `path` (file `file`) and its children into `krate`.
fn load(krate: &mut Crate, path: Vec<String>, file: &Path, items: &[syn::Item]) {
    let dir = module_dir(file, path.is_empty());
    let mut module = Module {
        file: file.to_path_buf(),
        ..Module::default()
    };
    let mut raw_uses = vec![];
    for item in items {
        let name = match item {
            syn::Item::Const(i) => Some(&i.ident),
            syn::Item::Enum(i) => Some(&i.ident),
            syn::Item::Fn(i) => Some(&i.sig.ident),
            syn::Item::Macro(i) => i.ident.as_ref(),
            syn::Item::Static(i) => Some(&i.ident),
            syn::Item::Struct(i) => Some(&i.ident),
            syn::Item::Trait(i) => Some(&i.ident),
            syn::Item::Type(i) => Some(&i.ident),
            syn::Item::Union(i) => Some(&i.ident),
            _ => None,
        };
        if let Some(name) = name {
            module.items.insert(name.to_string());
        }
        match item {
            syn::Item::Use(u) => flatten(&u.tree, &mut vec![], &mut raw_uses),
            syn::Item::Mod(m) => {
                let name = m.ident.to_string();
                module.children.insert(name.clone());
                let mut child = path.clone();
                child.push(name.clone());
                match &m.content {
                    Some((_, inner)) => load(krate, child, file, inner),
                    None => {
                        let candidates = [
                            dir.join(format!("{name}.rs")),
                            dir.join(&name).join("mod.rs"),
                        ];
                        if let Some(found) = candidates.iter().find(|p| p.exists()) {
                            let text = std::fs::read_to_string(found).unwrap();
                            let parsed = syn::parse_file(&text)
                                .unwrap_or_else(|e| panic!("{}: {e}", found.display()));
                            load(krate, child, found, &parsed.items);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    krate.modules.insert(path.clone(), module);
    // Bindings are made absolute once the children are known.
    let mut uses = BTreeMap::new();
    let mut globs = vec![];
    for (name, p) in raw_uses {
        let Some(abs) = absolute(krate, &path, &p) else {
            continue;
        };
        krate.refs.push((file.to_path_buf(), abs.clone()));
        if name == "*" {
            globs.push(abs);
        } else {
            uses.insert(name, abs);
        }
    }
    let module = krate.modules.get_mut(&path).unwrap();
    module.uses = uses;
    module.globs = globs;
}

/// Where a file's child modules live: a crate root's and a `mod.rs`'s beside them, `foo.rs`'s
/// in `foo/`.
fn module_dir(file: &Path, root: bool) -> PathBuf {
    let stem = file.file_stem().unwrap().to_str().unwrap();
    let parent = file.parent().unwrap();
    if root || stem == "mod" {
        parent.to_path_buf()
    } else {
        parent.join(stem)
    }
}

/// Collects the paths written in code, with the module they are written in.
struct Paths<'a> {
    at: Vec<String>,
    found: &'a mut Vec<(Vec<String>, Vec<String>)>,
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if let Some((_, items)) = &m.content {
            self.at.push(m.ident.to_string());
            for item in items {
                self.visit_item(item);
            }
            self.at.pop();
        }
    }

    fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {}

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && path.segments.len() > 1 {
            let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.found.push((self.at.clone(), segments));
        }
        syn::visit::visit_path(self, path);
    }
}

/// The crate rooted at `root` (a `lib.rs`, `main.rs` or test/bench entry point).
fn read_crate(root: &Path) -> Crate {
    let mut krate = Crate::default();
    let text = std::fs::read_to_string(root).unwrap();
    let parsed = syn::parse_file(&text).unwrap();
    load(&mut krate, vec![], root, &parsed.items);
    let files: BTreeMap<PathBuf, Vec<String>> = krate
        .modules
        .iter()
        .map(|(path, m)| (m.file.clone(), path.clone()))
        .fold(BTreeMap::new(), |mut acc, (file, path)| {
            let entry = acc.entry(file).or_insert_with(|| path.clone());
            if path.len() < entry.len() {
                *entry = path;
            }
            acc
        });
    for (file, path) in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed = syn::parse_file(&text).unwrap();
        let mut found = vec![];
        let mut visitor = Paths {
            at: path,
            found: &mut found,
        };
        for item in &parsed.items {
            visitor.visit_item(item);
        }
        for (at, segments) in found {
            if let Some(abs) = absolute(&krate, &at, &segments) {
                krate.refs.push((file.clone(), abs));
            }
        }
    }
    krate
}

/// The import edges between the files of one crate.
fn edges(krate: &Crate) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut out: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (from, path) in &krate.refs {
        if let Some(to) = resolve(krate, path, 0, false)
            && &to != from
        {
            out.entry(from.clone()).or_default().insert(to);
        }
    }
    out
}

/// The strongly connected components with more than one file (Tarjan).
fn circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct State<'a> {
        graph: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: HashMap<&'a PathBuf, usize>,
        low: HashMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on_stack: BTreeSet<&'a PathBuf>,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a PathBuf) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(next) = s.graph.get(v) {
            for w in next {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = vec![];
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: vec![],
        on_stack: BTreeSet::new(),
        out: vec![],
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// Every crate root of a package: lib, binaries, tests, benches, examples.
fn roots(dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![];
    for file in ["src/lib.rs", "src/main.rs", "build.rs"] {
        if dir.join(file).exists() {
            roots.push(dir.join(file));
        }
    }
    for sub in ["src/bin", "tests", "benches", "examples"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                roots.push(path);
            } else if path.join("main.rs").exists() {
                roots.push(path.join("main.rs"));
            }
        }
    }
    roots
}

#[test]
fn no_two_files_import_each_other() {
    let root = workspace();
    let mut found = vec![];
    for dir in all_packages() {
        for entry in roots(&dir) {
            let krate = read_crate(&entry);
            for circle in circles(&edges(&krate)) {
                let names: Vec<String> = circle
                    .iter()
                    .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
                    .collect();
                found.push(names.join(" ⇄ "));
            }
        }
    }
    assert!(found.is_empty(), "file circles:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lib.rs"),
        "mod a; mod b; pub use a::A; pub struct Root;",
    )
    .unwrap();
    std::fs::write(dir.path().join("a.rs"), "use crate::b::B; pub struct A(B);").unwrap();
    std::fs::write(
        dir.path().join("b.rs"),
        "pub struct B; fn f() -> crate::A { todo() }",
    )
    .unwrap();
    let krate = read_crate(&dir.path().join("lib.rs"));
    let circles = circles(&edges(&krate));
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert_eq!(circles[0].len(), 2);
    // Through a re-export: `crate::A` is a.rs, not lib.rs, so lib.rs is in no circle.
    assert!(!circles[0].iter().any(|p| p.ends_with("lib.rs")));
}
