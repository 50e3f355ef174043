//! Reading Lambda events so that an error names the field at fault
//! (`regions[1]`, `detail.dry_run`, `Records[0].Sns.Message`) and what was expected.

use serde::Deserialize;
use serde_json::Value;

/// A field of an event and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

/// Deserializes `value`; `prefix` is where it sits in the event ("" for the whole event).
pub fn deserialize<T: for<'de> Deserialize<'de>>(value: Value, prefix: &str) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => "(event)".to_owned(),
            (true, _) => path,
            (false, ".") => prefix.to_owned(),
            (false, _) => format!("{prefix}.{path}"),
        };
        FieldError { field, problem: e.into_inner().to_string() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Request {
        dry_run: Option<bool>,
        regions: Option<Vec<String>>,
    }

    #[test]
    fn the_path_names_the_field() {
        let err = deserialize::<Request>(json!({ "regions": ["a", 2] }), "").unwrap_err();
        assert_eq!(err.field, "regions[1]");
        let err = deserialize::<Request>(json!({ "dry_run": 1 }), "detail").unwrap_err();
        assert_eq!(err.field, "detail.dry_run");
        let err = deserialize::<Request>(json!(3), "").unwrap_err();
        assert_eq!(err.field, "(event)");
    }
}
