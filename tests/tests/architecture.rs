//! The shape of the code, checked: no import circle between the modules of a crate, no source
//! file over 600 lines (tests and generated data aside), no two public types of the product
//! with one name, and nothing that reads a path outside the repository. Each failure names the
//! file and what to do.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use watchdog_tests::lambda::workspace_root;

/// The crates' source folders.
const CRATES: &[&str] = &[
    "core/src",
    "aws/src",
    "emulator/src",
    "functions/scanner/src",
    "functions/recycler/src",
    "functions/trimmer/src",
    "cli/src",
    "tests/src",
];

const MAX_LINES: usize = 600;

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir).into_iter().filter(|path| path.extension().is_some_and(|e| e == "rs")).collect()
}

fn is_test_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "tests.rs") || path.components().any(|c| c.as_os_str() == "tests")
}

/// The text before a file's `#[cfg(test)] mod tests`.
fn code_part(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests").map_or(text, |at| &text[..at])
}

/// `crate::<module>` names a file's code uses.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
        if !name.is_empty() {
            modules.insert(name);
        }
    }
    modules
}

/// Which top-level module of the crate at `root` uses which.
fn module_graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(root).into_iter().filter(|f| !is_test_file(f.strip_prefix(root).unwrap())) {
        let relative = file.strip_prefix(root).unwrap();
        let top =
            relative.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let uses: Vec<String> = crate_modules(code_part(&text)).into_iter().filter(|m| *m != top).collect();
        graph.entry(top).or_default().extend(uses);
    }
    graph
}

/// A circle through `start`, if there is one.
fn circle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_owned()]];
    while let Some(path) = stack.pop() {
        for next in graph.get(path.last().unwrap()).into_iter().flatten() {
            if next == start {
                return Some(path.iter().cloned().chain([start.to_owned()]).collect());
            }
            if !path.contains(next) {
                stack.push(path.iter().cloned().chain([next.clone()]).collect());
            }
        }
    }
    None
}

#[test]
fn no_import_circle_between_the_modules_of_a_crate() {
    for krate in CRATES {
        let graph = module_graph(&workspace_root().join(krate));
        for module in graph.keys() {
            if let Some(circle) = circle_from(&graph, module) {
                panic!(
                    "{krate}: modules import each other in a circle: {}; move what both need into a module of its own",
                    circle.join(" -> ")
                );
            }
        }
    }
}

#[test]
fn the_circle_check_sees_a_circle() {
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["a".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(circle_from(&graph, "a"), Some(vec!["a".into(), "b".into(), "a".into()]));
    assert_eq!(circle_from(&graph, "c"), None);
    assert_eq!(
        crate_modules("use crate::ports::{A};\nlet x = crate::model::id_of(y);"),
        BTreeSet::from(["model".into(), "ports".into()])
    );
}

#[test]
fn no_source_file_over_600_lines() {
    for krate in CRATES {
        let root = workspace_root().join(krate);
        for file in rust_files(&root).into_iter().filter(|f| !is_test_file(f.strip_prefix(&root).unwrap())) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            assert!(lines <= MAX_LINES, "{}: {lines} lines; split it by job (at most {MAX_LINES})", file.display());
        }
    }
}

/// The names each remediation or scanning function gives its own piece of one concept: the
/// same word for the same thing in every function.
const ONE_PER_FUNCTION: &[&str] = &["Config", "Settings", "Observed", "Report"];

/// `pub struct|enum|trait|type <Name>` in a file's code.
fn public_types(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in code_part(text).lines() {
        let line = line.trim_start();
        for kind in ["pub struct ", "pub enum ", "pub trait ", "pub type "] {
            if let Some(rest) = line.strip_prefix(kind) {
                names.push(rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect());
            }
        }
    }
    names
}

/// The emulator is apart: its types mirror the service's, as core's model does, on purpose.
#[test]
fn no_two_public_types_of_the_product_share_a_name() {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for krate in CRATES.iter().filter(|k| !k.starts_with("emulator") && !k.starts_with("tests")) {
        let root = workspace_root().join(krate);
        for file in rust_files(&root).into_iter().filter(|f| !is_test_file(f.strip_prefix(&root).unwrap())) {
            for name in public_types(&std::fs::read_to_string(&file).unwrap()) {
                seen.entry(name).or_default().push(file.strip_prefix(workspace_root()).unwrap().display().to_string());
            }
        }
    }
    let clashes: Vec<String> = seen
        .iter()
        .filter(|(name, files)| files.len() > 1 && !ONE_PER_FUNCTION.contains(&name.as_str()))
        .map(|(name, files)| format!("{name}: {}", files.join(", ")))
        .collect();
    assert!(clashes.is_empty(), "public types with one name; give each its own: {clashes:#?}");
}

#[test]
fn nothing_reads_a_path_outside_the_repository() {
    let root = workspace_root();
    let mut places: Vec<PathBuf> = CRATES.iter().map(|c| root.join(c)).collect();
    places.extend(
        [
            "tests/tests",
            "functions/scanner/tests",
            "functions/recycler/tests",
            "functions/trimmer/tests",
            "scripts",
            ".ci",
        ]
        .map(|p| root.join(p)),
    );
    for place in places {
        for file in walk(&place) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            // This file names the pattern it looks for.
            if file.ends_with("architecture.rs") {
                continue;
            }
            assert!(
                !text.contains("../shared"),
                "{}: reads ../shared; vendor what it needs (see reference/README.md)",
                file.display()
            );
        }
    }
}
