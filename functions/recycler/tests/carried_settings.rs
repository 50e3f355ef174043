//! The recycler's list of carried settings against the official service model: a member the
//! model adds to CreateStreamGroupInput or LocationConfiguration that the list does not name
//! fails here, before a recycled group silently loses it. The model is read as a file (the
//! copy bundled with the emulator, the botocore 1.44.5 model, see reference/README.md), not through any
//! of the emulator's code.

use gls_watchdog_recycler::carry::CARRIED;
use serde_json::Value;
use std::collections::BTreeSet;

fn model() -> Value {
    let path = format!("{}/../../emulator/model/service-2.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

#[test]
fn every_member_of_the_create_inputs_is_carried_and_nothing_else_is_claimed() {
    let model = model();
    for shape in ["CreateStreamGroupInput", "LocationConfiguration"] {
        let members: BTreeSet<&str> = model["shapes"][shape]["members"]
            .as_object()
            .unwrap_or_else(|| panic!("{shape} is not in the model"))
            .keys()
            .map(String::as_str)
            .collect();
        let carried: BTreeSet<&str> = CARRIED.iter().filter(|(s, _, _)| *s == shape).map(|(_, m, _)| *m).collect();
        let dropped: Vec<&&str> = members.difference(&carried).collect();
        assert!(dropped.is_empty(), "{shape} has members the recycler does not carry: {dropped:?}");
        let invented: Vec<&&str> = carried.difference(&members).collect();
        assert!(invented.is_empty(), "the recycler claims members {shape} does not have: {invented:?}");
    }
}
