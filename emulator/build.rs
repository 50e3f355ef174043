//! Generates the emulator's enumerations from the bundled service model: every `enum` shape of
//! `model/service-2.json` becomes a `model_enum!` (see `src/vocabulary.rs`) with the model's
//! wire names, so the emulator cannot send a value the model does not have, and a value the
//! model adds becomes a variant every exhaustive `match` must then place.

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
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("model_enums.rs");
    std::fs::write(&path, out).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
