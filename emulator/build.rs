//! Generates the emulator's enumerations from the bundled service model: every `enum` shape of
//! `model/service-2.json` becomes a `model_enum!` (see `src/vocabulary.rs`) with the model's
//! wire names, so the emulator cannot send a value the model does not have, and a value the
//! model adds becomes a variant every exhaustive `match` must then place. Every error shape
//! (`"exception": true`) becomes a `model_errors!` row with the model's HTTP status (see
//! `src/error.rs`).

use std::fmt::Write;

const MODEL: &str = "model/service-2.json";

fn main() {
    println!("cargo:rerun-if-changed={MODEL}");
    let text = std::fs::read_to_string(MODEL).unwrap_or_else(|e| panic!("{MODEL}: {e}"));
    let model: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{MODEL}: {e}"));
    let shapes = model["shapes"].as_object().unwrap_or_else(|| panic!("{MODEL} has no shapes"));
    let mut out = String::new();
    for (shape, definition) in shapes {
        let Some(values) = definition["enum"].as_array() else { continue };
        writeln!(out, "model_enum!({shape} = {shape:?} {{").unwrap();
        for value in values {
            let wire = value.as_str().unwrap_or_else(|| panic!("{MODEL}: {shape} has a value that is not a string"));
            writeln!(out, "    {} = {wire:?},", variant(wire)).unwrap();
        }
        writeln!(out, "}});").unwrap();
    }
    write_out("model_enums.rs", out);
    write_out("model_errors.rs", error_shapes(shapes));
}

/// `model_errors!` (see `src/error.rs`): every error shape of the model with its `httpStatusCode`.
fn error_shapes(shapes: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = String::from("model_errors! {\n");
    for (shape, definition) in shapes.iter().filter(|(_, d)| d["exception"].as_bool() == Some(true)) {
        let status = definition["error"]["httpStatusCode"].as_u64();
        let status = status.unwrap_or_else(|| panic!("{MODEL}: {shape} has no httpStatusCode"));
        writeln!(out, "    {shape} = {status},").unwrap();
    }
    out.push_str("}\n");
    out
}

fn write_out(name: &str, text: String) {
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A wire name as a Rust variant: `ACTIVE_WITH_ERRORS` -> `ActiveWithErrors`,
/// `internalError` -> `InternalError`, `gen4n_high` -> `Gen4nHigh`.
fn variant(wire: &str) -> String {
    let shouting = !wire.chars().any(|c| c.is_ascii_lowercase());
    wire.split('_')
        .map(|part| {
            let part = if shouting { part.to_ascii_lowercase() } else { part.to_owned() };
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}
