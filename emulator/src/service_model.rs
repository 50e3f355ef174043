//! The official service model (`model/service-2.json`, copied from botocore) drives routing
//! and input validation, so the emulator accepts and refuses exactly what the model says:
//! required members, lengths, ranges, patterns and enum values.

use crate::error::ServiceError;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

const SERVICE_MODEL: &str = include_str!("../model/service-2.json");

#[derive(Debug, Deserialize)]
struct RawModel {
    operations: HashMap<String, RawOperation>,
    shapes: HashMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
struct RawOperation {
    http: RawHttp,
    input: Option<ShapeRef>,
    #[serde(default)]
    errors: Vec<ShapeRef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHttp {
    method: String,
    request_uri: String,
    response_code: Option<u16>,
}

#[derive(Debug, Clone, Deserialize)]
struct ShapeRef {
    shape: String,
}

#[derive(Debug, Deserialize)]
pub struct Shape {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    members: HashMap<String, Member>,
    member: Option<ShapeRef>,
    key: Option<ShapeRef>,
    value: Option<ShapeRef>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    values: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    shape: String,
    documentation: Option<String>,
    location: Option<String>,
    location_name: Option<String>,
}

/// One operation's HTTP binding.
#[derive(Debug)]
pub struct ModelOperation {
    pub name: String,
    pub method: String,
    /// Path template split on '/', e.g. `["streamgroups", "{Identifier}", "locations"]`.
    segments: Vec<String>,
    pub success_code: u16,
    input_shape: Option<String>,
    errors: Vec<String>,
}

impl ModelOperation {
    /// Whether the model lets this operation answer with `error` (e.g. ConflictException).
    pub fn may_return(&self, error: &str) -> bool {
        self.errors.iter().any(|e| e == error)
    }
}

pub struct ServiceModel {
    operations: Vec<ModelOperation>,
    shapes: HashMap<String, Shape>,
    patterns: HashMap<String, Regex>,
}

/// A request matched to an operation, before its input is assembled.
pub struct Routed<'m> {
    pub operation: &'m ModelOperation,
    labels: HashMap<String, String>,
}

impl ServiceModel {
    pub fn load() -> Self {
        let raw: RawModel = serde_json::from_str(SERVICE_MODEL).expect("embedded service model is valid JSON");
        let mut operations: Vec<ModelOperation> = raw
            .operations
            .into_iter()
            .map(|(name, op)| ModelOperation {
                name,
                method: op.http.method,
                segments: split_path(&op.http.request_uri).map(str::to_owned).collect(),
                success_code: op.http.response_code.unwrap_or(200),
                input_shape: op.input.map(|s| s.shape),
                errors: op.errors.into_iter().map(|e| e.shape).collect(),
            })
            .collect();
        operations.sort_by(|a, b| a.name.cmp(&b.name));
        let patterns =
            raw.shapes.values().filter_map(|s| s.pattern.as_ref()).map(|p| (p.clone(), compile_pattern(p))).collect();
        Self { operations, shapes: raw.shapes, patterns }
    }

    pub fn operation(&self, name: &str) -> Option<&ModelOperation> {
        self.operations.iter().find(|op| op.name == name)
    }

    /// Every operation of the model, by name.
    pub fn operation_names(&self) -> impl Iterator<Item = &str> {
        self.operations.iter().map(|op| op.name.as_str())
    }

    /// The values of an `enum` shape, in the model's order.
    pub fn enum_values(&self, shape: &str) -> Option<Vec<&str>> {
        self.shapes.get(shape)?.values.as_ref().map(|v| v.iter().map(String::as_str).collect())
    }

    /// The documentation of `member` in `shape`, as the model writes it (HTML).
    pub fn member_documentation(&self, shape: &str, member: &str) -> Option<&str> {
        self.shapes.get(shape)?.members.get(member)?.documentation.as_deref()
    }

    /// Finds the operation for `method` + raw `path`. Labels are percent-decoded per segment
    /// (an ARN label arrives as `arn%3Aaws%3A...%2Fsg-...`). Literal segments win over labels.
    pub fn route(&self, method: &str, path: &str) -> Option<Routed<'_>> {
        let segments: Vec<String> = split_path(path)
            .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        self.operations
            .iter()
            .filter(|op| op.method == method && op.segments.len() == segments.len())
            .filter_map(|op| {
                let mut labels = HashMap::new();
                let mut literals = 0;
                for (template, actual) in op.segments.iter().zip(&segments) {
                    if let Some(label) = template.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                        if actual.is_empty() {
                            return None;
                        }
                        labels.insert(label.to_owned(), actual.clone());
                    } else if template == actual {
                        literals += 1;
                    } else {
                        return None;
                    }
                }
                Some((literals, Routed { operation: op, labels }))
            })
            .max_by_key(|(literals, _)| *literals)
            .map(|(_, routed)| routed)
    }

    /// Builds the operation's input from path labels, query string and JSON body, the way
    /// the model binds each member, then validates it against the model.
    pub fn input(&self, routed: &Routed<'_>, query: &[(String, String)], body: &[u8]) -> Result<Value, ServiceError> {
        let Some(shape_name) = &routed.operation.input_shape else {
            return Ok(Value::Object(Map::new()));
        };
        let shape = &self.shapes[shape_name];
        let mut input = if body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(ServiceError::serialization("the request body must be a JSON object")),
                Err(e) => return Err(ServiceError::serialization(format!("the request body is not valid JSON: {e}"))),
            }
        };
        for (name, member) in &shape.members {
            let wire_name = member.location_name.as_deref().unwrap_or(name);
            match member.location.as_deref() {
                Some("uri") => {
                    input.remove(name);
                    if let Some(value) = routed.labels.get(wire_name) {
                        input.insert(name.clone(), Value::String(value.clone()));
                    }
                }
                Some("querystring") => {
                    input.remove(name);
                    let values: Vec<&str> =
                        query.iter().filter(|(k, _)| k == wire_name).map(|(_, v)| v.as_str()).collect();
                    if values.is_empty() {
                        continue;
                    }
                    let value = self.query_value(&member.shape, wire_name, &values)?;
                    input.insert(name.clone(), value);
                }
                _ => {}
            }
        }
        let input = Value::Object(input);
        let mut problems = Vec::new();
        self.validate(shape_name, &input, "", &mut problems);
        if problems.is_empty() {
            Ok(input)
        } else {
            let count = problems.len();
            let noun = if count == 1 { "error" } else { "errors" };
            Err(ServiceError::validation(format!("{count} validation {noun} detected: {}", problems.join("; "))))
        }
    }

    fn query_value(&self, shape_name: &str, wire_name: &str, values: &[&str]) -> Result<Value, ServiceError> {
        let shape = &self.shapes[shape_name];
        Ok(match shape.kind.as_str() {
            "list" => Value::Array(values.iter().map(|v| Value::String((*v).to_owned())).collect()),
            "integer" | "long" => {
                let n: i64 = values[0].parse().map_err(|_| {
                    ServiceError::validation(format!("Value '{}' at '{wire_name}' is not an integer", values[0]))
                })?;
                Value::from(n)
            }
            "boolean" => Value::Bool(values[0] == "true"),
            _ => Value::String(values[0].to_owned()),
        })
    }

    /// Checks `value` against `shape_name`, adding AWS-style messages to `problems`.
    fn validate(&self, shape_name: &str, value: &Value, path: &str, problems: &mut Vec<String>) {
        let shape = &self.shapes[shape_name];
        let at = if path.is_empty() { String::new() } else { format!(" at '{path}'") };
        match shape.kind.as_str() {
            "structure" => {
                let Some(object) = value.as_object() else {
                    problems.push(format!("Value{at} must be a structure"));
                    return;
                };
                let mut names: Vec<&String> = shape.members.keys().collect();
                names.sort();
                for name in names {
                    let child = join_path(path, &lower_first(name));
                    match object.get(name.as_str()) {
                        None | Some(Value::Null) if shape.required.contains(name) => {
                            problems.push(format!(
                                "Value null at '{child}' failed to satisfy constraint: Member must not be null"
                            ));
                        }
                        None | Some(Value::Null) => {}
                        Some(v) => self.validate(&shape.members[name].shape, v, &child, problems),
                    }
                }
            }
            "string" => {
                let Some(text) = value.as_str() else {
                    problems.push(format!("Value{at} must be a string"));
                    return;
                };
                let length = text.chars().count() as f64;
                if let Some(min) = shape.min.filter(|&min| length < min) {
                    problems.push(format!("Value '{text}'{at} failed to satisfy constraint: Member must have length greater than or equal to {min}"));
                }
                if let Some(max) = shape.max.filter(|&max| length > max) {
                    problems.push(format!("Value '{text}'{at} failed to satisfy constraint: Member must have length less than or equal to {max}"));
                }
                if let Some(pattern) = &shape.pattern
                    && !self.patterns[pattern].is_match(text)
                {
                    problems.push(format!("Value '{text}'{at} failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"));
                }
                if let Some(values) = shape.values.as_ref().filter(|v| !v.iter().any(|e| e == text)) {
                    problems.push(format!(
                        "Value '{text}'{at} failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                        values.join(", ")
                    ));
                }
            }
            "integer" | "long" => {
                let Some(number) = value.as_i64() else {
                    problems.push(format!("Value {value}{at} must be an integer"));
                    return;
                };
                if let Some(min) = shape.min.filter(|&min| (number as f64) < min) {
                    problems.push(format!("Value '{number}'{at} failed to satisfy constraint: Member must have value greater than or equal to {min}"));
                }
                if let Some(max) = shape.max.filter(|&max| (number as f64) > max) {
                    problems.push(format!("Value '{number}'{at} failed to satisfy constraint: Member must have value less than or equal to {max}"));
                }
            }
            "boolean" if !value.is_boolean() => {
                problems.push(format!("Value {value}{at} must be a boolean"));
            }
            "timestamp" if !value.is_number() => {
                problems.push(format!("Value {value}{at} must be a timestamp in epoch seconds"));
            }
            "list" => {
                let Some(items) = value.as_array() else {
                    problems.push(format!("Value{at} must be a list"));
                    return;
                };
                self.check_size(shape, items.len(), &at, problems);
                let member = &shape.member.as_ref().expect("list shapes name their member").shape;
                for (i, item) in items.iter().enumerate() {
                    self.validate(member, item, &format!("{path}.{}.member", i + 1), problems);
                }
            }
            "map" => {
                let Some(entries) = value.as_object() else {
                    problems.push(format!("Value{at} must be a map"));
                    return;
                };
                self.check_size(shape, entries.len(), &at, problems);
                let key = &shape.key.as_ref().expect("map shapes name their key").shape;
                let val = &shape.value.as_ref().expect("map shapes name their value").shape;
                for (k, v) in entries {
                    self.validate(key, &Value::String(k.clone()), &format!("{path}.{k}.key"), problems);
                    self.validate(val, v, &format!("{path}.{k}.value"), problems);
                }
            }
            _ => {}
        }
    }

    fn check_size(&self, shape: &Shape, size: usize, at: &str, problems: &mut Vec<String>) {
        let size = size as f64;
        if let Some(min) = shape.min.filter(|&min| size < min) {
            problems.push(format!(
                "Value{at} failed to satisfy constraint: Member must have length greater than or equal to {min}"
            ));
        }
        if let Some(max) = shape.max.filter(|&max| size > max) {
            problems.push(format!(
                "Value{at} failed to satisfy constraint: Member must have length less than or equal to {max}"
            ));
        }
    }
}

impl Routed<'_> {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

fn split_path(path: &str) -> impl Iterator<Item = &str> {
    path.split('?').next().unwrap_or_default().split('/').filter(|s| !s.is_empty())
}

fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The model's patterns are Java regular expressions matched against the whole value.
/// Java reads a '-' right after a range (`0-9-_`) as a literal; Rust's regex wants it escaped.
fn compile_pattern(pattern: &str) -> Regex {
    let mut rust = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    // Inside a class: whether the last thing pushed can start a range (`a` in `a-z`).
    let mut can_start_range = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                rust.push(c);
                rust.extend(chars.next());
                can_start_range = in_class;
            }
            '[' if !in_class => {
                in_class = true;
                can_start_range = false;
                rust.push(c);
                if chars.peek() == Some(&'^') {
                    rust.extend(chars.next());
                }
            }
            ']' if in_class => {
                in_class = false;
                rust.push(c);
            }
            '-' if in_class && can_start_range && chars.peek() != Some(&']') => {
                // A range: copy its end (one char or one escape) so it cannot start another.
                rust.push('-');
                if let Some(end) = chars.next() {
                    rust.push(end);
                    if end == '\\' {
                        rust.extend(chars.next());
                    }
                }
                can_start_range = false;
            }
            '-' if in_class => {
                rust.push_str("\\-");
                can_start_range = false;
            }
            _ => {
                rust.push(c);
                can_start_range = in_class;
            }
        }
    }
    Regex::new(&format!("^(?:{rust})$"))
        .unwrap_or_else(|e| panic!("service model pattern {pattern:?} does not compile: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_pattern_compiles_and_matches_whole_values() {
        let model = ServiceModel::load();
        let description = &model.patterns["[a-zA-Z0-9-_.!+@/][a-zA-Z0-9-_.!+@/ ]*"];
        assert!(description.is_match("racer-prod_2 eu"));
        assert!(description.is_match("a-b"));
        assert!(!description.is_match(" leading space"));
        assert!(!description.is_match("bad#char"));
    }

    #[test]
    fn routes_prefer_literal_segments_and_decode_labels() {
        let model = ServiceModel::load();
        let routed = model
            .route("GET", "/tags/arn%3Aaws%3Agameliftstreams%3Aus-west-2%3A111122223333%3Astreamgroup%2Fsg-1")
            .unwrap();
        assert_eq!(routed.operation.name, "ListTagsForResource");
        assert_eq!(
            routed.label("ResourceArn"),
            Some("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-1")
        );
        assert_eq!(model.route("GET", "/streamsessions").unwrap().operation.name, "ListStreamSessionsByAccount");
        assert!(model.route("GET", "/nothing/here").is_none());
    }

    #[test]
    fn validation_names_every_bad_member() {
        let model = ServiceModel::load();
        let routed = model.route("POST", "/streamgroups").unwrap();
        let body = br#"{"Description":"bad#desc","LocationConfigurations":[{"LocationName":"us-west-2","AlwaysOnCapacity":-1}]}"#;
        let err = model.input(&routed, &[], body).unwrap_err();
        let message = err.message();
        assert!(message.starts_with("3 validation errors detected"), "{message}");
        assert!(message.contains("'streamClass' failed to satisfy constraint: Member must not be null"), "{message}");
        assert!(message.contains("'description'"), "{message}");
        assert!(message.contains("'locationConfigurations.1.member.alwaysOnCapacity'"), "{message}");
    }
}
