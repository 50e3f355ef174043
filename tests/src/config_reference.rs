//! The configuration reference, docs/configuration.md, generated from the code's own
//! configuration parsers and template.yaml: every environment variable a function reads, with
//! the functions that read it, the template parameter that sets it, its default (what the
//! parser falls back to) and what it accepts (the parser's own error for a bad value). Only
//! the meaning column is written by hand; the generator keeps it. `cargo run -p watchdog-tests
//! --bin watchdog-config-reference` rewrites the page; a test fails when the page differs.

use crate::lambda::workspace_root;
use serde_yaml::Value as Yaml;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use watchdog_core::env_config::{ConfigError, FromEnv, defaults_of};

/// The page's path inside the repository.
pub const PAGE: &str = "docs/configuration.md";

/// A value no parser accepts, so its error says what it does accept.
const NOT_A_VALUE: &str = "\u{7f}not-a-value\u{7f}";

/// One function: its name, what it reads, and what each variable accepts.
type Function = (&'static str, Read, fn(&str) -> String);

/// What one function reads.
struct Read {
    names: BTreeSet<String>,
    defaults: BTreeMap<&'static str, String>,
}

/// Every variable `parse` reads with a bare environment (AWS_REGION only), and its defaults.
fn reads<C: FromEnv>() -> Read {
    let names = RefCell::new(BTreeSet::new());
    let lookup = |name: &str| {
        names.borrow_mut().insert(name.to_owned());
        (name == "AWS_REGION").then(|| "us-west-2".to_owned())
    };
    let (_, defaults) = defaults_of(|| C::from_lookup(&lookup));
    Read { names: names.into_inner(), defaults }
}

/// Every variable `C`'s parser reads when only AWS_REGION is set.
pub fn variables_read<C: FromEnv>() -> BTreeSet<String> {
    reads::<C>().names
}

/// What `variable` accepts, from the parser's own error for a bad value ("any value" when it
/// takes any text).
fn accepted<C: FromEnv>(variable: &str) -> String {
    let lookup = |name: &str| match name {
        _ if name == variable => Some(NOT_A_VALUE.to_owned()),
        "AWS_REGION" => Some("us-west-2".to_owned()),
        _ => None,
    };
    match C::from_lookup(&lookup) {
        Err(ConfigError::Invalid { variable: v, expected, .. }) if v == variable => expected,
        _ => "any value".to_owned(),
    }
}

/// One row of the reference.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Row {
    pub variable: String,
    pub functions: Vec<&'static str>,
    pub parameter: String,
    pub default: String,
    pub accepted: String,
    pub meaning: String,
}

/// The template's setting of each function's variables: `!Ref Parameter` as the parameter's
/// name, anything else as "derived" or the literal, by variable and function.
fn template_settings() -> BTreeMap<String, BTreeMap<&'static str, String>> {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).expect("template.yaml");
    let template: Yaml = serde_yaml::from_str(&text).expect("template.yaml parses");
    let describe = |value: &Yaml| match value {
        Yaml::Tagged(tagged) if tagged.tag == "!Ref" => tagged.value.as_str().unwrap_or_default().to_owned(),
        Yaml::Tagged(_) => "derived".to_owned(),
        other => format!("set to `{}`", other.as_str().map(str::to_owned).unwrap_or_else(|| format!("{other:?}"))),
    };
    let mut settings: BTreeMap<String, BTreeMap<&'static str, String>> = BTreeMap::new();
    let globals = template["Globals"]["Function"]["Environment"]["Variables"].as_mapping().cloned().unwrap_or_default();
    for (_, resource) in template["Resources"].as_mapping().expect("resources") {
        let Some(binary) = resource["Metadata"]["BuildProperties"]["Binary"].as_str() else { continue };
        let function = function_name(binary);
        let own = resource["Properties"]["Environment"]["Variables"].as_mapping().cloned().unwrap_or_default();
        for (name, value) in globals.iter().chain(own.iter()) {
            let name = name.as_str().expect("a variable name").to_owned();
            settings.entry(name).or_default().insert(function, describe(value));
        }
    }
    settings
}

fn function_name(binary: &str) -> &'static str {
    match binary {
        "gls-watchdog-scanner" => "scanner",
        "gls-watchdog-recycler" => "recycler",
        "gls-watchdog-trimmer" => "trimmer",
        other => panic!("template.yaml builds {other}, which the reference does not know"),
    }
}

/// Variables the template sets that no function reads: a typo or a leftover.
pub fn set_but_not_read() -> Vec<String> {
    let rows = rows(&BTreeMap::new());
    let read: BTreeSet<&str> = rows.iter().map(|r| r.variable.as_str()).collect();
    template_settings().into_keys().filter(|name| !read.contains(name.as_str())).collect()
}

/// Every row, with the meanings given.
pub fn rows(meanings: &BTreeMap<String, String>) -> Vec<Row> {
    let functions: [Function; 3] = [
        ("scanner", reads::<gls_watchdog_scanner::Config>(), accepted::<gls_watchdog_scanner::Config>),
        ("recycler", reads::<gls_watchdog_recycler::Config>(), accepted::<gls_watchdog_recycler::Config>),
        ("trimmer", reads::<gls_watchdog_trimmer::Config>(), accepted::<gls_watchdog_trimmer::Config>),
    ];
    let template = template_settings();
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for (function, read, accepted) in &functions {
        for name in &read.names {
            // The Lambda runtime sets AWS_REGION; it is not the watchdog's to configure.
            if name == "AWS_REGION" {
                continue;
            }
            let row = rows.entry(name.clone()).or_insert_with(|| Row { variable: name.clone(), ..Row::default() });
            row.functions.push(function);
            if row.default.is_empty() {
                row.default = read.defaults.get(name.as_str()).cloned().unwrap_or_default();
            }
            if row.accepted.is_empty() || row.accepted == "any value" {
                row.accepted = accepted(name);
            }
        }
    }
    for row in rows.values_mut() {
        let set: BTreeSet<String> =
            template.get(&row.variable).map(|by_function| by_function.values().cloned().collect()).unwrap_or_default();
        row.parameter = if set.is_empty() {
            "not set by the template".into()
        } else {
            set.into_iter().collect::<Vec<_>>().join(", ")
        };
        row.meaning = meanings.get(&row.variable).cloned().unwrap_or_default();
    }
    rows.into_values().collect()
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The page, from its rows.
pub fn render(rows: &[Row]) -> String {
    let mut page = String::from(
        "# Configuration reference\n\n\
         Every environment variable the functions read. Generated from the code's own parsers and\n\
         template.yaml by `cargo run -p watchdog-tests --bin watchdog-config-reference`: the default is\n\
         what the parser falls back to (empty: unset, or derived as the meaning says), \"accepted\" is\n\
         the parser's own error text for a bad value, the parameter is what template.yaml sets it\n\
         from. Only the meaning is written by hand. A test fails when this page and the code or the\n\
         template disagree, and when the template sets a variable no function reads.\n\n\
         | variable | functions | template parameter | default | accepted | meaning |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let default = if row.default.is_empty() { String::new() } else { format!("`{}`", cell(&row.default)) };
        page.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            row.variable,
            row.functions.join(", "),
            cell(&row.parameter),
            default,
            cell(&row.accepted),
            cell(&row.meaning)
        ));
    }
    page
}

/// The meanings written on the page now, by variable.
pub fn meanings_on_page() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(workspace_root().join(PAGE)).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|line| {
            let cells: Vec<&str> = split_row(line);
            let variable = cells.first()?.trim().trim_matches('`').to_owned();
            Some((variable, cells.get(5)?.trim().replace("\\|", "|")))
        })
        .collect()
}

/// A table row's cells, `\|` kept inside its cell.
fn split_row(line: &str) -> Vec<&str> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut start = 0;
    let bytes = inner.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\') {
            cells.push(&inner[start..i]);
            start = i + 1;
        }
    }
    cells.push(&inner[start..]);
    cells
}
