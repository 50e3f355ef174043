//! The recycler planner's tests: pure, in-process.

use super::*;

#[test]
fn on_demand_only_capacity_keeps_its_deprecated_form() {
    let old =
        Capacity { always_on: Some(2), on_demand: Some(2), target_idle: Some(0), maximum: None, ..Capacity::default() };
    let spec = location_spec("us-west-2", &old);
    assert_eq!((spec.on_demand, spec.maximum, spec.target_idle), (Some(2), None, None));
    let new = Capacity {
        always_on: Some(2),
        on_demand: Some(0),
        target_idle: Some(1),
        maximum: Some(6),
        ..Capacity::default()
    };
    let spec = location_spec("us-west-2", &new);
    assert_eq!((spec.on_demand, spec.maximum, spec.target_idle), (None, Some(6), Some(1)));
}

use watchdog_core::{Location, StreamClass, StreamSessionStatus};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn settings() -> Settings {
    Settings {
        opt_in_tag: "watchdog:recycle".into(),
        manage_all_groups: false,
        grace: Duration::minutes(60),
        expiry_guard: Duration::hours(24),
        retry_backoff: Duration::minutes(30),
        max_groups_in_flight: 1,
        repair_locations: true,
        alert_tag_prefix: "watchdog:alert:".into(),
        policy: Policy::default(),
    }
}

fn group(id: &str, age_days: i64, tags: &[(&str, &str)]) -> StreamGroup {
    StreamGroup {
        id: id.into(),
        arn: format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{id}"),
        description: Some("racer".into()),
        stream_class: Some(StreamClass::parse("gen5n_high")),
        status: StreamGroupStatus::Active,
        status_reason: None,
        created_at: Some(now() - Duration::days(age_days)),
        last_updated_at: None,
        expires_at: None,
        default_application: None,
        associated_applications: vec!["arn:app/a-1".into(), "arn:app/a-2".into()],
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        locations: vec![Location {
            name: "us-west-2".into(),
            status: LocationStatus::Active,
            capacity: Capacity { always_on: Some(2), ..Capacity::default() },
        }],
    }
}

fn actions(plan: &Plan<Step>) -> Vec<String> {
    plan.items.iter().map(|i| i.action.name()).collect()
}

#[test]
fn only_opted_in_due_groups_are_recreated_and_stacks_are_never_touched() {
    let opted = group("sg-A", 29, &[("watchdog:recycle", "true")]);
    let silent = group("sg-B", 29, &[]);
    let out = group("sg-C", 29, &[("watchdog:recycle", "false")]);
    let stack = group("sg-D", 29, &[("watchdog:recycle", "true"), (opt_in::CFN_STACK_TAG, "s")]);
    let young = group("sg-E", 3, &[("watchdog:recycle", "true")]);
    let observed: Vec<Observed> = [opted, silent, out, stack, young]
        .into_iter()
        .map(|group| Observed { group, replacement: None, sessions: vec![], predecessor_alive: true })
        .collect();
    let plan = plan(&observed, now(), &settings());
    assert_eq!(actions(&plan), ["create_replacement"]);
    assert_eq!(plan.items[0].stream_group, "sg-A");
    assert!(plan.notes.iter().any(|n| n.stream_group == "sg-D" && n.note.contains("CloudFormation")));
    assert!(plan.notes.iter().any(|n| n.stream_group == "sg-C" && n.note.contains("opted out")));
}

#[test]
fn the_replacement_copies_user_tags_but_not_watchdog_state() {
    let old = group(
        "sg-A",
        29,
        &[("team", "racing"), ("watchdog:recycle", "true"), ("watchdog:alert:rotation_due", "x"), ("aws:x", "y")],
    );
    let spec = create_request(&old, 2, &settings());
    assert_eq!(spec.client_token, "gls-watchdog-recycle-sg-A-attempt-0002");
    assert!(spec.client_token.len() >= 32);
    let keys: Vec<&str> = spec.tags.keys().map(String::as_str).collect();
    assert_eq!(keys, ["team", "watchdog:managed-by", "watchdog:recycle", "watchdog:replaces"]);
}

#[test]
fn each_step_follows_what_is_observed() {
    let s = settings();
    let mut old = group("sg-A", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]);
    let mut new = group("sg-N", 0, &[(state::REPLACES, "sg-A")]);
    new.associated_applications = vec!["arn:app/a-1".into()];
    let observe = |old: &StreamGroup, new: &StreamGroup, sessions: Vec<StreamSession>| {
        vec![Observed {
            group: old.clone(),
            replacement: Some(Replacement::Found(Box::new(new.clone()))),
            sessions,
            predecessor_alive: true,
        }]
    };
    new.status = StreamGroupStatus::Activating;
    assert!(actions(&plan(&observe(&old, &new, vec![]), now(), &s)).is_empty());
    new.status = StreamGroupStatus::Active;
    assert_eq!(actions(&plan(&observe(&old, &new, vec![]), now(), &s)), ["associate_applications"]);
    new.associated_applications = old.associated_applications.clone();
    assert_eq!(actions(&plan(&observe(&old, &new, vec![]), now(), &s)), ["announce_cutover"]);
    old.tags.insert(state::CUTOVER_AT.into(), (now() - Duration::minutes(59)).timestamp().to_string());
    assert!(actions(&plan(&observe(&old, &new, vec![]), now(), &s)).is_empty(), "grace period");
    old.tags.insert(state::CUTOVER_AT.into(), (now() - Duration::minutes(61)).timestamp().to_string());
    let playing = watchdog_core::testkit::session(
        "us-west-2",
        "sg-A",
        1,
        StreamSessionStatus::Connected,
        "us-west-2",
        now(),
        now(),
    );
    assert!(actions(&plan(&observe(&old, &new, vec![playing.clone()]), now(), &s)).is_empty(), "a player is on");
    old.expires_at = Some(now() + Duration::hours(2));
    assert_eq!(
        actions(&plan(&observe(&old, &new, vec![playing]), now(), &s)),
        ["delete_old_group", "announce_retired"],
        "expiry near: waiting longer costs the streams anyway"
    );
    new.status = StreamGroupStatus::Error;
    assert_eq!(
        actions(&plan(&observe(&old, &new, vec![]), now(), &s)),
        ["record_failed_replacement", "delete_failed_replacement", "unlink"]
    );
    old.tags.insert(state::FAILED.into(), "sg-N".into());
    assert_eq!(
        actions(&plan(&observe(&old, &new, vec![]), now(), &s)),
        ["delete_failed_replacement", "unlink"],
        "counted once"
    );
}
