//! The shape of the source, kept by a test: no file in `src/` over 800 lines, and no module
//! that imports a module importing it back (directly or through others). A module imports
//! another when its code (not its comments, not its unit tests) names a path
//! `crate::that::module` or, in `ops/`, `super::that`; naming an item re-exported at the crate
//! root (`crate::Var`) imports the root, which imports everything, so that is a cycle too.
//! (`super::` paths that do not name a sibling module come from inline modules and name the
//! file's own items.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// `ops/unary.rs` -> `ops::unary`, `ops/mod.rs` -> `ops`, `lib.rs` -> `crate`.
fn module_of(file: &str) -> String {
    let m = file.trim_end_matches(".rs").trim_end_matches("/mod").replace('/', "::");
    if m == "lib" {
        "crate".into()
    } else {
        m
    }
}

/// The code of a file without comments, string literals and its `#[cfg(test)]` module.
fn code_of(src: &str) -> String {
    let src = match src.find("#[cfg(test)]") {
        Some(i) => &src[..i],
        None => src,
    };
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && i + 1 < b.len() && b[i + 1] == b'/' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// The paths named after `prefix` (`crate::` or `super::`), as their `::`-separated
/// segments, also inside `use prefix::{a, b::c}` groups.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let mut segs = Vec::new();
        let mut s = rest;
        loop {
            let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
            if end == 0 {
                if let Some(group) = s.strip_prefix('{') {
                    // `use crate::a::{b, c::d}`: each member continues the path.
                    let close = group.find('}').unwrap_or(group.len());
                    for member in group[..close].split(',') {
                        let mut p = segs.clone();
                        p.extend(member.trim().split("::").map(|x| x.trim().to_string()).filter(|x| !x.is_empty()));
                        out.push(p);
                    }
                    segs.clear();
                }
                break;
            }
            segs.push(s[..end].to_string());
            s = &s[end..];
            match s.strip_prefix("::") {
                Some(n) => s = n,
                None => break,
            }
        }
        if !segs.is_empty() {
            out.push(segs);
        }
    }
    out
}

/// The longest known module that `segs` (relative to `base`) starts with.
fn resolve(base: &[&str], segs: &[String], modules: &BTreeSet<String>) -> String {
    for n in (1..=segs.len()).rev() {
        let mut p: Vec<&str> = base.to_vec();
        p.extend(segs[..n].iter().map(String::as_str));
        let m = p.join("::");
        if modules.contains(&m) {
            return m;
        }
    }
    if base.is_empty() {
        "crate".into()
    } else {
        base.join("::")
    }
}

#[test]
fn no_source_file_is_over_800_lines() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|(_, s)| s.lines().count() > MAX_LINES)
        .map(|(f, s)| format!("{f}: {} lines", s.lines().count()))
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:?}");
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let files = sources();
    let modules: BTreeSet<String> = files.iter().map(|(f, _)| module_of(f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, src) in &files {
        let me = module_of(file);
        let code = code_of(src);
        let mut deps = BTreeSet::new();
        for segs in paths_after(&code, "crate::") {
            deps.insert(resolve(&[], &segs, &modules));
        }
        let parent: Vec<&str> = if file.ends_with("mod.rs") || me == "crate" {
            me.split("::").collect()
        } else {
            let mut p: Vec<&str> = me.split("::").collect();
            p.pop();
            p
        };
        for segs in paths_after(&code, "super::") {
            // `super::m` naming a sibling module is a dependency on it; anything else under
            // `super::` here comes from an inline module (`mod sealed { use super::X }`) and
            // names this file's own items.
            let m = resolve(&parent, &segs, &modules);
            if m != parent.join("::") && !(parent.is_empty() && m == "crate") {
                deps.insert(m);
            }
        }
        // The root declares and re-exports every module: that is not a dependency to check.
        if me != "crate" {
            deps.remove(&me);
            edges.insert(me, deps);
        }
    }
    // A module naming the root (a re-exported item) closes a cycle through it.
    let through_root: Vec<&String> = edges.iter().filter(|(_, d)| d.contains("crate")).map(|(m, _)| m).collect();
    assert!(
        through_root.is_empty(),
        "modules naming items through the crate root (use the defining module): {through_root:?}"
    );
    // Depth-first search for a cycle.
    fn visit<'a>(
        m: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|s| *s == m).unwrap();
                let mut cycle: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(m, 1);
        stack.push(m);
        for d in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, edges, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(m, 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(m, &edges, &mut state, &mut stack) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

/// The checker itself: it sees a cycle where there is one.
#[test]
fn the_cycle_check_finds_cycles() {
    let modules: BTreeSet<String> = ["a", "b", "ops", "ops::x"].iter().map(|s| s.to_string()).collect();
    let code = code_of(
        "use crate::b::{Thing, other::X};\n// crate::a in a comment\nfn f() { crate::ops::x::g(\"crate::a\") }",
    );
    let deps: BTreeSet<String> = paths_after(&code, "crate::").iter().map(|s| resolve(&[], s, &modules)).collect();
    assert_eq!(deps, ["b", "ops::x"].iter().map(|s| s.to_string()).collect());
    let sup: Vec<String> =
        paths_after("use super::x::Y;", "super::").iter().map(|s| resolve(&["ops"], s, &modules)).collect();
    assert_eq!(sup, vec!["ops::x".to_string()]);
}
