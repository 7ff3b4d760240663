//! The tree follows the data in one direction (see `src/lib.rs`): a module may use modules of a
//! lower layer, never one of its own layer or above. This reads every source file and fails on any
//! `crate::` path that points sideways or up, so a cycle cannot creep back in unnoticed.
//!
//! Test code is exempt (a test may drive a whole agent): files named `tests.rs` or `*_tests.rs`,
//! files under a `tests/` folder, and inline `#[cfg(test)] mod ... { }` blocks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bottom to top. A module may import only modules of a strictly lower layer.
const LAYERS: &[&[&str]] = &[
    &["names", "model", "clock"],
    &["config"],
    &["store"],
    &["telemetry", "health", "memory"],
    &["derive", "tls", "statsd", "otlp"],
    &["state"],
    &["pipeline"],
    &["net"],
    &["receivers", "expose", "notify", "report"],
    &["app", "report_cli", "budgets_cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_test_file(rel: &Path) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || rel.components().any(|c| c.as_os_str() == "tests")
}

/// The file's text up to its inline test module, if any.
fn non_test_part(text: &str) -> &str {
    let mut from = 0;
    while let Some(i) = text[from..].find("#[cfg(test)]") {
        let at = from + i;
        let rest = text[at + "#[cfg(test)]".len()..].trim_start();
        let rest = rest.strip_prefix("pub ").unwrap_or(rest);
        if let Some(after_mod) = rest.strip_prefix("mod ") {
            let header: String = after_mod.chars().take_while(|c| *c != ';').collect();
            if header.contains('{') {
                return &text[..at];
            }
        }
        from = at + 1;
    }
    text
}

/// Top-level modules named by `crate::` paths on one line, including `use crate::{a, b::c}`.
fn targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let head = item.trim().split("::").next().unwrap_or("");
                if !head.is_empty() {
                    out.push(head.to_string());
                }
            }
        } else {
            let head: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !head.is_empty() {
                out.push(head);
            }
        }
        rest = after;
    }
    out
}

#[test]
fn no_module_imports_its_own_layer_or_above() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut seen_modules = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap_or(file);
        if rel == Path::new("lib.rs") || rel == Path::new("main.rs") || is_test_file(rel) {
            continue;
        }
        let first = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy());
        let module = first
            .as_deref()
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_string();
        let Some(from) = layer_of(&module) else {
            violations.push(format!("{}: module `{module}` has no layer", rel.display()));
            continue;
        };
        seen_modules.insert(module.clone(), from);
        let text = std::fs::read_to_string(file).expect("readable source");
        for (n, line) in non_test_part(&text).lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for target in targets(line) {
                if target == module || target == "self" {
                    continue;
                }
                match layer_of(&target) {
                    Some(to) if to < from => {}
                    Some(_) => violations.push(format!(
                        "{}:{}: `{module}` uses `{target}` (same layer or above): {}",
                        rel.display(),
                        n + 1,
                        line.trim()
                    )),
                    None => violations.push(format!(
                        "{}:{}: `{target}` has no layer",
                        rel.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    // Every layered module exists, so the table above stays the map of the tree.
    for module in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            seen_modules.contains_key(*module),
            "{module} is listed in LAYERS but has no source"
        );
    }
}

#[test]
fn the_checker_sees_grouped_and_nested_paths() {
    assert_eq!(
        targets("use crate::{config::Config, store};"),
        vec!["config", "store"]
    );
    assert_eq!(
        targets("let x = crate::pipeline::load(p); crate::app::start()"),
        vec!["pipeline", "app"]
    );
    let text = "use crate::a;\n#[cfg(test)]\nmod tests;\nfn f() {}\n#[cfg(test)]\nmod t {\n use crate::app;\n}\n";
    assert!(non_test_part(text).contains("mod tests;"));
    assert!(!non_test_part(text).contains("crate::app"));
}
