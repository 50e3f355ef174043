//! The hub's state machine (org/scan-organisation.asl.json) driven from its own definition
//! where no local server can run it (LocalStack runs Lambda only in a container engine): its
//! payload templates applied as Step Functions applies them, for the forms the definition uses.

use crate::lambda::workspace_root;
use serde_json::{Map, Value};

/// The hub's state machine definition, with the template's DefinitionSubstitutions applied.
pub fn definition(read_role: &str, scanner: &str) -> Value {
    let text = std::fs::read_to_string(workspace_root().join("org/scan-organisation.asl.json")).unwrap();
    serde_json::from_str(&text.replace("${ReadRoleName}", read_role).replace("${ScannerFunctionArn}", scanner))
        .expect("the definition is JSON")
}

/// A JSONPath of the forms the definition uses: `$.a.b` on the state's input, `$$.a.b` on
/// the context object.
pub fn path<'a>(expression: &str, input: &'a Value, context: &'a Value) -> &'a Value {
    let (root, rest) = match expression.strip_prefix("$$") {
        Some(rest) => (context, rest),
        None => (input, expression.strip_prefix('$').expect("a JSONPath")),
    };
    rest.split('.').filter(|p| !p.is_empty()).fold(root, |value, key| &value[key])
}

/// Applies a payload template (ItemSelector, Parameters, ResultSelector): `key.$` fields
/// take the path's value, the others stay as they are.
pub fn select(template: &Value, input: &Value, context: &Value) -> Value {
    match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                match (key.strip_suffix(".$"), value) {
                    (Some(name), Value::String(expression)) => {
                        out.insert(name.to_owned(), path(expression, input, context).clone());
                    }
                    _ => {
                        out.insert(key.clone(), select(value, input, context));
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// What a Task state sends its Lambda function: its Parameters' Payload on the state's input.
pub fn task_payload(state: &Value, input: &Value) -> Value {
    select(&state["Parameters"], input, &Value::Null)["Payload"].clone()
}

/// The state's output after its Lambda function answered `answer`: the ResultSelector
/// applied to the invoke result (`{"Payload": answer}`), placed at the ResultPath (`$.name`)
/// of the input, or replacing it where the state has no ResultPath.
pub fn task_output(state: &Value, input: &Value, answer: &Value) -> Value {
    let result = match state.get("ResultSelector") {
        Some(selector) => select(selector, &serde_json::json!({ "Payload": answer }), &Value::Null),
        None => serde_json::json!({ "Payload": answer }),
    };
    with_result(state, input, result)
}

/// `result` placed at the state's ResultPath (`$.name`) in `input`, or replacing it.
pub fn with_result(state: &Value, input: &Value, result: Value) -> Value {
    match state.get("ResultPath").and_then(Value::as_str) {
        None | Some("$") => result,
        Some(path) => {
            let name = path.strip_prefix("$.").filter(|n| !n.contains('.')).expect("a ResultPath of the form $.name");
            let mut output = input.clone();
            output[name] = result;
            output
        }
    }
}

/// One child execution of the `ScanTargets` map.
pub struct Child {
    /// The item of the execution's target list.
    pub item: Value,
    /// The child's input: the map's ItemSelector applied to the item.
    pub input: Value,
    /// What the child's task sends the scanner: its Parameters' Payload on that input.
    pub payload: Value,
}

/// The children the map starts for the map state's input, in item order.
pub fn map_children(definition: &Value, map_input: &Value) -> Vec<Child> {
    let map = &definition["States"]["ScanTargets"];
    let task = &map["ItemProcessor"]["States"]["ScanOneTarget"];
    let items = path(map["ItemsPath"].as_str().expect("ItemsPath"), map_input, &Value::Null);
    let items = items.as_array().expect("a list of targets").clone();
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let context = serde_json::json!({ "Map": { "Item": { "Index": index, "Value": item } } });
            let input = select(&map["ItemSelector"], map_input, &context);
            let payload = task_payload(task, &input);
            Child { item, input, payload }
        })
        .collect()
}
