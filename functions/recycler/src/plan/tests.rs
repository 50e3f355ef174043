//! The recycler planner's tests: pure, in-process, one per step and failure path.

use super::*;
use crate::carry::{create_request, location_spec};
use watchdog_core::ports::Write;
use watchdog_core::reconcile::{Call, FAILURE_KIND, StepKind};
use watchdog_core::tags::recycle::{RepairRecord, decode_repair, encode_repair, repair_key};
use watchdog_core::testkit::fixed_now as now;
use watchdog_core::{
    ApplicationRef, ApplicationStatus, Capacity, Location, LocationStatus, StreamClass, StreamSessionStatus,
    StreamUrlStatus, VpcTransit,
};

fn settings() -> Settings {
    Settings {
        opt_in_tag: "watchdog:recycle".into(),
        manage_all_groups: false,
        grace: Duration::minutes(60),
        expiry_guard: Duration::hours(24),
        retry_backoff: Duration::minutes(30),
        max_groups_in_flight: 1,
        repair_locations: true,
        max_repair_attempts: 3,
        repair_stable: Duration::hours(24),
        require_cutover_ack: false,
        activation_timeout: Duration::minutes(60),
        stream_url_max_wait: Duration::hours(168),
        alert_tag_prefix: "watchdog:alert:".into(),
        policy: Policy::default(),
    }
}

fn location(name: &str, status: LocationStatus) -> Location {
    Location {
        name: name.into(),
        status,
        capacity: Capacity { always_on: Some(2), target_idle: Some(1), maximum: Some(6), ..Capacity::default() },
        vpc_transit: None,
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
        default_application: Some(ApplicationRef { id: Some("a-1".into()), arn: Some("arn:app/a-1".into()) }),
        associated_applications: vec!["arn:app/a-1".into(), "arn:app/a-2".into()],
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        locations: vec![location("us-west-2", LocationStatus::Active)],
    }
}

fn app(arn: &str, status: ApplicationStatus, reason: Option<&str>) -> (String, Application) {
    let application = Application {
        arn: arn.into(),
        id: watchdog_core::id_of(arn).into(),
        status,
        status_reason: reason.map(str::to_owned),
    };
    (arn.to_owned(), application)
}

/// An observed old group whose applications are all READY.
fn observed(group: StreamGroup) -> Observed {
    let mut o = Observed::new(group);
    for arn in ["arn:app/a-1", "arn:app/a-2"] {
        o.applications.extend([app(arn, ApplicationStatus::Ready, None)]);
    }
    o
}

fn with_replacement(mut o: Observed, new: &StreamGroup) -> Observed {
    o.replacement = Some(Replacement::Found(Box::new(new.clone())));
    o
}

fn replacement(old: &str, tags: &[(&str, &str)]) -> StreamGroup {
    let mut new = group("sg-N", 0, tags);
    new.tags.insert(state::REPLACES.into(), old.into());
    new.tags.insert(state::MANAGED_BY.into(), "gls-watchdog-recycler".into());
    new
}

fn actions(plan: &Plan<RecyclerStep>) -> Vec<String> {
    plan.items.iter().map(|i| i.kind.name()).collect()
}

fn reasons(plan: &Plan<RecyclerStep>) -> Vec<&str> {
    plan.blocked.iter().map(|b| b.reason.as_str()).collect()
}

fn run(o: &Observed) -> Plan<RecyclerStep> {
    plan(std::slice::from_ref(o), now(), &settings())
}

fn run_with(o: &Observed, s: &Settings) -> Plan<RecyclerStep> {
    plan(std::slice::from_ref(o), now(), s)
}

fn cutover_at(minutes_ago: i64) -> String {
    (now() - Duration::minutes(minutes_ago)).timestamp().to_string()
}

#[test]
fn on_demand_only_capacity_keeps_its_deprecated_form() {
    let mut old = location("us-west-2", LocationStatus::Active);
    old.capacity =
        Capacity { always_on: Some(2), on_demand: Some(2), target_idle: Some(0), maximum: None, ..Capacity::default() };
    let spec = location_spec(&old);
    assert_eq!((spec.on_demand, spec.maximum, spec.target_idle), (Some(2), None, None));
    old.capacity = Capacity {
        always_on: Some(2),
        on_demand: Some(0),
        target_idle: Some(1),
        maximum: Some(6),
        ..Capacity::default()
    };
    let spec = location_spec(&old);
    assert_eq!((spec.on_demand, spec.maximum, spec.target_idle), (None, Some(6), Some(1)));
}

#[test]
fn only_opted_in_due_groups_are_recreated_and_stacks_are_never_touched() {
    let opted = group("sg-A", 29, &[("watchdog:recycle", "true")]);
    let silent = group("sg-B", 29, &[]);
    let out = group("sg-C", 29, &[("watchdog:recycle", "false")]);
    let stack = group("sg-D", 29, &[("watchdog:recycle", "true"), (opt_in::CFN_STACK_TAG, "s")]);
    let young = group("sg-E", 3, &[("watchdog:recycle", "true")]);
    let all: Vec<Observed> = [opted, silent, out, stack, young].into_iter().map(observed).collect();
    let plan = plan(&all, now(), &settings());
    assert_eq!(actions(&plan), ["create_replacement"]);
    assert_eq!(plan.items[0].stream_group, "sg-A");
    assert!(plan.notes.iter().any(|n| n.stream_group == "sg-D" && n.note.contains("CloudFormation")));
    assert!(plan.notes.iter().any(|n| n.stream_group == "sg-C" && n.note.contains("opted out")));
}

#[test]
fn the_replacement_carries_every_setting_vpc_transit_included_and_user_tags_but_not_watchdog_state() {
    let mut old = group(
        "sg-A",
        29,
        &[("team", "racing"), ("watchdog:recycle", "true"), ("watchdog:alert:rotation_due", "x"), ("aws:x", "y")],
    );
    old.tags.insert(state::BLOCKED.into(), "quota".into());
    let vpc = VpcTransit {
        vpc_id: "vpc-0abc".into(),
        ipv4_cidr_blocks: vec!["10.0.0.0/16".into(), "10.1.0.0/16".into()],
        transit_gateway_id: Some("tgw-old".into()),
        transit_gateway_resource_share_arn: Some("arn:aws:ram:share/old".into()),
        internal_cidr: Some("172.16.0.0/16".into()),
    };
    let mut remote = location("eu-central-1", LocationStatus::Active);
    remote.vpc_transit = Some(vpc.clone());
    old.locations = vec![remote, location("us-west-2", LocationStatus::Active)];
    old.locations[1].vpc_transit = Some(vpc);
    let spec = create_request(&old, Some("arn:app/a-1".into()), 2, &settings());
    assert_eq!(spec.client_token, "gls-watchdog-recycle-sg-A-attempt-0002");
    assert!(spec.client_token.len() >= 32);
    let keys: Vec<&str> = spec.tags.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["team", "watchdog:managed-by", "watchdog:recycle", "watchdog:replacement-attempt", "watchdog:replaces"]
    );
    assert_eq!(spec.locations.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["us-west-2", "eu-central-1"]);
    for l in &spec.locations {
        let vpc = l.vpc_transit.as_ref().expect("VPC transit carried");
        assert_eq!((vpc.vpc_id.as_str(), vpc.ipv4_cidr_blocks.len()), ("vpc-0abc", 2));
        assert_eq!((l.always_on, l.target_idle, l.maximum), (2, Some(1), Some(6)));
    }
    assert_eq!((spec.description.as_str(), spec.stream_class.as_str()), ("racer", "gen5n_high"));
}

#[test]
fn each_step_follows_what_is_observed() {
    let s = settings();
    let mut old = group("sg-A", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]);
    let mut new = replacement("sg-A", &[]);
    new.associated_applications = vec!["arn:app/a-1".into()];
    let observe = |old: &StreamGroup, new: &StreamGroup, sessions: Vec<StreamSession>| {
        let mut o = with_replacement(observed(old.clone()), new);
        o.sessions = sessions;
        vec![o]
    };
    new.status = StreamGroupStatus::Activating;
    assert!(actions(&plan(&observe(&old, &new, vec![]), now(), &s)).is_empty());
    new.status = StreamGroupStatus::Active;
    assert_eq!(actions(&plan(&observe(&old, &new, vec![]), now(), &s)), ["associate_applications"]);
    new.associated_applications = old.associated_applications.clone();
    assert_eq!(actions(&plan(&observe(&old, &new, vec![]), now(), &s)), ["announce_cutover"]);
    old.tags.insert(state::CUTOVER_AT.into(), cutover_at(59));
    assert!(actions(&plan(&observe(&old, &new, vec![]), now(), &s)).is_empty(), "grace period");
    old.tags.insert(state::CUTOVER_AT.into(), cutover_at(61));
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

#[test]
fn the_retirement_waits_for_the_delete_and_is_keyed_by_the_old_group() {
    let mut old = group("sg-A", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]);
    old.tags.insert(state::CUTOVER_AT.into(), cutover_at(61));
    let mut new = replacement("sg-A", &[]);
    new.associated_applications = old.associated_applications.clone();
    let plan = run(&with_replacement(observed(old), &new));
    assert_eq!(actions(&plan), ["delete_old_group", "announce_retired"]);
    assert_eq!(plan.items[0].sequence, plan.items[1].sequence, "a failed delete defers the announcement");
}

#[test]
fn a_default_application_in_error_falls_back_to_a_ready_one_or_blocks_the_recreation() {
    let old = group("sg-A", 29, &[("watchdog:recycle", "true")]);
    let mut o = observed(old);
    o.applications.extend([app("arn:app/a-1", ApplicationStatus::Error, Some("sourceModified"))]);
    let plan = run(&o);
    assert_eq!(actions(&plan), ["create_replacement"]);
    let RecyclerStep::CreateReplacement { spec } = &plan.items[0].kind else { panic!() };
    assert_eq!(spec.default_application.as_deref(), Some("arn:app/a-2"), "the READY associated one");
    assert!(plan.notes[0].note.contains("a-1 is ERROR (sourceModified)"), "{:?}", plan.notes);

    o.applications.extend([app("arn:app/a-2", ApplicationStatus::Processing, None)]);
    let plan = run(&o);
    assert_eq!(actions(&plan), ["record_blocked"], "no create; the reason recorded once");
    assert_eq!(reasons(&plan), ["application_not_ready"]);
    assert!(plan.blocked[0].detail.contains("a-1 is ERROR (sourceModified)"), "{:?}", plan.blocked);
    o.group.tags.insert(state::BLOCKED.into(), "application_not_ready".into());
    let plan = run(&o);
    assert!(actions(&plan).is_empty(), "announced once");
    assert_eq!(reasons(&plan), ["application_not_ready"], "still counted");

    o.applications.extend([app("arn:app/a-1", ApplicationStatus::Ready, None)]);
    assert_eq!(actions(&run(&o)), ["create_replacement"], "READY again: the recreation goes on");
}

#[test]
fn an_application_not_ready_holds_the_cutover_until_ready_or_expiry() {
    let mut old = group("sg-A", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]);
    let mut new = replacement("sg-A", &[]);
    new.associated_applications = vec!["arn:app/a-1".into()];
    let mut o = with_replacement(observed(old.clone()), &new);
    o.applications.extend([app("arn:app/a-2", ApplicationStatus::Error, Some("internalError"))]);
    let plan = run(&o);
    assert_eq!(actions(&plan), ["record_blocked"]);
    assert!(plan.blocked[0].detail.contains("a-2 is ERROR (internalError)"));

    old.expires_at = Some(now() + Duration::hours(3));
    let mut o = with_replacement(observed(old), &new);
    o.applications.extend([app("arn:app/a-2", ApplicationStatus::Error, None)]);
    let plan = run(&o);
    assert_eq!(actions(&plan), ["announce_cutover"], "the old group expires anyway");
    let RecyclerStep::AnnounceCutover { missing_applications, .. } = &plan.items[0].kind else { panic!() };
    assert_eq!(missing_applications, &["arn:app/a-2"]);
}

#[test]
fn active_stream_urls_are_named_and_hold_the_old_group_until_revoked_or_the_wait_ends() {
    let mut old = group("sg-A", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]);
    let mut new = replacement("sg-A", &[]);
    new.associated_applications = old.associated_applications.clone();
    let url = |id: &str, status: StreamUrlStatus| StreamUrl {
        arn: format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamurl/sg-A/{id}"),
        id: id.into(),
        status,
        expires_at: None,
        remaining_uses: Some(3),
        description: None,
    };
    let mut o = with_replacement(observed(old.clone()), &new);
    o.stream_urls = vec![url("su-LIVE", StreamUrlStatus::Active), url("su-OLD", StreamUrlStatus::Expired)];
    let plan = run(&o);
    let RecyclerStep::AnnounceCutover { stream_urls, .. } = &plan.items[0].kind else { panic!("{plan:?}") };
    assert_eq!(stream_urls, &["su-LIVE"], "only the active one is named");

    old.tags.insert(state::CUTOVER_AT.into(), cutover_at(61));
    o.group = old.clone();
    let plan = run(&o);
    assert!(actions(&plan).is_empty());
    assert!(plan.notes[0].note.contains("1 stream URL(s) still active"), "{:?}", plan.notes);
    old.tags.insert(state::CUTOVER_AT.into(), cutover_at(168 * 60 + 1));
    o.group = old.clone();
    assert_eq!(actions(&run(&o)), ["delete_old_group", "announce_retired"], "the configured wait is over");
    old.tags.insert(state::CUTOVER_AT.into(), cutover_at(61));
    o.group = old;
    o.stream_urls = vec![url("su-LIVE", StreamUrlStatus::Revoked)];
    assert_eq!(actions(&run(&o)), ["delete_old_group", "announce_retired"], "revoked");
}

#[test]
fn with_require_cutover_ack_nothing_is_deleted_before_the_backend_tags_the_replacement() {
    let s = Settings { require_cutover_ack: true, ..settings() };
    let mut old = group("sg-A", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]);
    let mut new = replacement("sg-A", &[]);
    new.associated_applications = old.associated_applications.clone();
    let plan = run_with(&with_replacement(observed(old.clone()), &new), &s);
    let Call::Announce(message) = &plan.items[0].effect.call else { panic!() };
    assert!(message.body.contains("aws gameliftstreams tag-resource"), "{}", message.body);
    assert!(message.body.contains("watchdog:cutover-ack=true"));

    old.tags.insert(state::CUTOVER_AT.into(), cutover_at(24 * 60));
    old.expires_at = Some(now() + Duration::hours(1));
    let plan = run_with(&with_replacement(observed(old.clone()), &new), &s);
    assert_eq!(actions(&plan), ["record_blocked"], "not even with expiry near");
    assert_eq!(reasons(&plan), ["awaiting_ack"]);
    new.tags.insert(state::CUTOVER_ACK.into(), "2026-11-21T12:00:00Z".into());
    old.tags.insert(state::BLOCKED.into(), "awaiting_ack".into());
    let plan = run_with(&with_replacement(observed(old), &new), &s);
    assert_eq!(actions(&plan), ["delete_old_group", "announce_retired", "clear_blocked"]);
}

#[test]
fn an_expired_group_is_replaced_without_a_write_to_it() {
    let mut old = group("sg-A", 366, &[("watchdog:recycle", "true"), ("team", "racing")]);
    old.status = StreamGroupStatus::Expired;
    let plan = run(&observed(old.clone()));
    assert_eq!(actions(&plan), ["create_replacement"]);
    let create = &plan.items[0].effect;
    assert!(create.after.is_none() && create.on_failure.is_none(), "no tag on the expired group");
    let RecyclerStep::CreateReplacement { spec } = &plan.items[0].kind else { panic!() };
    assert_eq!(spec.tags["team"], "racing");

    // The state lives on the replacement: the cut-over time is written there.
    let mut new = replacement("sg-A", &[]);
    new.associated_applications = old.associated_applications.clone();
    let plan = run(&with_replacement(observed(old.clone()), &new));
    assert_eq!(actions(&plan), ["announce_cutover"]);
    let after = plan.items[0].effect.after.as_ref().unwrap();
    assert_eq!(after.arn, new.arn);
    assert!(after.set.contains_key(state::CUTOVER_AT));
    new.tags.insert(state::CUTOVER_AT.into(), cutover_at(61));
    let plan = run(&with_replacement(observed(old.clone()), &new));
    assert_eq!(actions(&plan), ["delete_old_group", "announce_retired"]);
    for item in &plan.items {
        for write in [&item.effect.before, &item.effect.after].into_iter().flatten() {
            assert_ne!(write.arn, old.arn, "{} writes on the expired group", item.kind.name());
        }
    }
}

#[test]
fn an_expired_group_without_readable_tags_waits_for_a_person_to_name_it() {
    let mut old = group("sg-A", 366, &[]);
    old.status = StreamGroupStatus::Expired;
    let mut o = observed(old);
    o.tags_known = false;
    let plan = run(&o);
    assert!(actions(&plan).is_empty());
    assert_eq!(reasons(&plan), ["expired_tags_unreadable"]);
    o.named = true;
    assert_eq!(actions(&run(&o)), ["create_replacement"]);
}

#[test]
fn a_failed_replacement_of_an_expired_group_is_recorded_on_itself_then_retried_after_the_backoff() {
    let mut old = group("sg-A", 366, &[("watchdog:recycle", "true")]);
    old.status = StreamGroupStatus::Expired;
    let mut failed = replacement("sg-A", &[(state::REPLACEMENT_ATTEMPT, "1")]);
    failed.status = StreamGroupStatus::Error;
    let plan = run(&with_replacement(observed(old.clone()), &failed));
    assert_eq!(actions(&plan), ["record_failed_replacement"]);
    assert_eq!(plan.items[0].effect.after.as_ref().unwrap().arn, failed.arn);
    failed.tags.insert(state::RETRY_AFTER.into(), (now() + Duration::minutes(5)).timestamp().to_string());
    failed.tags.insert(state::BLOCKED.into(), "failed_replacement".into());
    let plan = run(&with_replacement(observed(old.clone()), &failed));
    assert!(actions(&plan).is_empty(), "{:?}", actions(&plan));
    assert_eq!(reasons(&plan), ["failed_replacement"]);
    failed.tags.insert(state::RETRY_AFTER.into(), (now() - Duration::minutes(1)).timestamp().to_string());
    let plan = run(&with_replacement(observed(old), &failed));
    assert_eq!(actions(&plan), ["create_replacement", "delete_failed_replacement"]);
    let RecyclerStep::CreateReplacement { spec } = &plan.items[0].kind else { panic!() };
    assert_eq!(spec.tags[state::REPLACEMENT_ATTEMPT], "2");
}

#[test]
fn a_refused_create_records_its_kind_and_backs_off_exponentially() {
    let mut old = group("sg-A", 29, &[("watchdog:recycle", "true")]);
    let plan = run(&observed(old.clone()));
    let record = plan.items[0].effect.on_failure.as_ref().expect("a refused create is recorded");
    assert_eq!(record.set[state::BLOCKED], FAILURE_KIND);
    assert_eq!(record.set[state::ATTEMPT], "1");
    assert_eq!(record.set[state::RETRY_AFTER], (now() + Duration::minutes(30)).timestamp().to_string());

    // Recorded by the runner as quota; within the back-off nothing is tried, the block is counted.
    old.tags.extend([
        (state::ATTEMPT.to_owned(), "2".to_owned()),
        (state::RETRY_AFTER.to_owned(), (now() + Duration::minutes(1)).timestamp().to_string()),
        (state::BLOCKED.to_owned(), "quota".to_owned()),
    ]);
    let plan = run(&observed(old.clone()));
    assert!(actions(&plan).is_empty());
    assert_eq!(reasons(&plan), ["quota"]);
    old.tags.insert(state::RETRY_AFTER.into(), (now() - Duration::minutes(1)).timestamp().to_string());
    let plan = run(&observed(old));
    assert_eq!(actions(&plan), ["create_replacement"], "the block stays recorded while retrying");
    let record = plan.items[0].effect.on_failure.as_ref().unwrap();
    assert_eq!(
        record.set[state::RETRY_AFTER],
        (now() + Duration::minutes(120)).timestamp().to_string(),
        "30 min x 2^2"
    );
}

#[test]
fn a_replacement_never_exceeds_fifty_tags() {
    let mut old = group("sg-A", 29, &[("watchdog:recycle", "true")]);
    for i in 0..crate::carry::user_tag_room() - 1 {
        old.tags.insert(format!("cost-centre-{i:02}"), "x".into());
    }
    let plan = run(&observed(old.clone()));
    let RecyclerStep::CreateReplacement { spec } = &plan.items[0].kind else { panic!() };
    assert!(spec.tags.len() + 4 <= 50, "{} tags and room for the later ones", spec.tags.len());
    assert_eq!(spec.tags.len() + 4, 50, "the last user tag that fits is carried: exactly 50 in the end");
    old.tags.insert("one-too-many".into(), "x".into());
    let plan = run(&observed(old));
    assert_eq!(actions(&plan), ["record_blocked"]);
    assert_eq!(reasons(&plan), ["tag_limit"]);
    assert!(plan.blocked[0].detail.contains("remove 1 tag(s)"), "{}", plan.blocked[0].detail);
}

#[test]
fn an_extra_replacement_from_an_earlier_attempt_is_deleted() {
    let old = group("sg-A", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]);
    let new = replacement("sg-A", &[]);
    let mut extra = replacement("sg-A", &[]);
    extra.id = "sg-X".into();
    let mut o = with_replacement(observed(old), &new);
    o.extra_replacements = vec![extra];
    let plan = run(&o);
    assert_eq!(actions(&plan)[0], "delete_extra_replacement");
    assert_eq!(plan.items[0].effect.call, Call::Write(Write::DeleteStreamGroup { group_id: "sg-X".into() }));
}

#[test]
fn a_location_that_fails_again_after_repair_backs_off_and_is_escalated_after_the_limit() {
    let mut g = group("sg-A", 3, &[("watchdog:recycle", "true")]);
    g.status = StreamGroupStatus::ActiveWithErrors;
    let mut remote = location("eu-central-1", LocationStatus::Error);
    remote.vpc_transit = Some(VpcTransit {
        vpc_id: "vpc-0abc".into(),
        ipv4_cidr_blocks: vec!["10.0.0.0/16".into()],
        ..VpcTransit::default()
    });
    g.locations.push(remote);
    let key = repair_key("eu-central-1");

    // Repair 1: the record (with its VPC) goes before the removal.
    let plan = run(&observed(g.clone()));
    assert_eq!(actions(&plan), ["remove_location"]);
    let before = plan.items[0].effect.before.as_ref().unwrap();
    let record = decode_repair("eu-central-1", &before.set[&key]).unwrap();
    assert_eq!((record.attempts, record.spec.vpc_transit.as_ref().unwrap().vpc_id.as_str()), (1, "vpc-0abc"));
    assert_eq!(record.retry_after, Some(now() + Duration::minutes(30)));

    // Removed, and the group ACTIVE again: added back with the same settings, the time recorded.
    let mut removed = g.clone();
    removed.locations.pop();
    removed.status = StreamGroupStatus::Active;
    removed.tags.insert(key.clone(), encode_repair(&record));
    let plan = run(&observed(removed));
    assert_eq!(actions(&plan), ["add_location"]);
    let Call::Write(Write::AddLocation { location, .. }) = &plan.items[0].effect.call else { panic!() };
    assert_eq!(location.vpc_transit.as_ref().unwrap().ipv4_cidr_blocks, ["10.0.0.0/16"]);
    let added = decode_repair("eu-central-1", &plan.items[0].effect.after.as_ref().unwrap().set[&key]).unwrap();

    // It fails again within the back-off: it waits; after it, repair 2 with twice the wait.
    let mut again = g.clone();
    again.tags.insert(key.clone(), encode_repair(&added));
    let plan = run(&observed(again.clone()));
    assert!(actions(&plan).is_empty(), "{:?}", plan.items);
    assert!(plan.notes[0].note.contains("repair 2 after"));
    let due = RepairRecord { retry_after: Some(now() - Duration::minutes(1)), ..added.clone() };
    again.tags.insert(key.clone(), encode_repair(&due));
    let plan = run(&observed(again.clone()));
    assert_eq!(actions(&plan), ["remove_location"]);
    let second = decode_repair("eu-central-1", &plan.items[0].effect.before.as_ref().unwrap().set[&key]).unwrap();
    assert_eq!((second.attempts, second.retry_after), (2, Some(now() + Duration::minutes(60))));

    // Past the limit: left in ERROR, escalated once.
    let spent = RepairRecord { attempts: 3, retry_after: None, ..added.clone() };
    again.tags.insert(key.clone(), encode_repair(&spent));
    let plan = run(&observed(again));
    assert_eq!(actions(&plan), ["record_blocked"]);
    assert_eq!(reasons(&plan), ["repair_limit"]);

    // Healthy for a day after being added back: forgotten.
    let mut healthy = g.clone();
    healthy.status = StreamGroupStatus::Active;
    healthy.locations[1].status = LocationStatus::Active;
    let stable = RepairRecord { added_back_at: Some(now() - Duration::hours(25)), ..added };
    healthy.tags.insert(key.clone(), encode_repair(&stable));
    assert_eq!(actions(&run(&observed(healthy))), ["forget_location"]);
}

#[test]
fn a_refused_removal_counts_as_an_attempt_and_waits_out_its_backoff() {
    let mut g = group("sg-A", 3, &[("watchdog:recycle", "true")]);
    g.status = StreamGroupStatus::ActiveWithErrors;
    g.locations.push(location("eu-central-1", LocationStatus::Error));
    let key = repair_key("eu-central-1");
    let plan = run(&observed(g.clone()));
    let refused = plan.items[0].effect.on_failure.as_ref().expect("a refused removal is recorded");
    let refused = decode_repair("eu-central-1", &refused.set[&key]).unwrap();
    assert_eq!((refused.attempts, refused.removal_failure.as_deref()), (2, Some("{failure-kind}")));
    assert_eq!(refused.retry_after, Some(now() + Duration::minutes(30)));
    g.tags.insert(key.clone(), encode_repair(&refused));
    let plan = run(&observed(g.clone()));
    assert!(actions(&plan).is_empty(), "within the back-off");
    let due = RepairRecord { retry_after: Some(now()), ..refused };
    g.tags.insert(key, encode_repair(&due));
    let plan = run(&observed(g));
    assert_eq!(actions(&plan), ["remove_location"]);
    let RecyclerStep::RemoveLocation { attempt, .. } = &plan.items[0].kind else { panic!() };
    assert_eq!(*attempt, 2);
}

/// Whether locations can be added or removed while ACTIVE_WITH_ERRORS is open (the
/// operations say "must be in ACTIVE status", the status says "remove any locations which are
/// in error"): a location is added back only in ACTIVE, and a removal the service refuses for
/// the group's state escalates to recreation; a refusal of another kind waits its back-off.
#[test]
fn location_repair_holds_under_every_reading_of_active_with_errors() {
    let mut g = group("sg-A", 3, &[("watchdog:recycle", "true")]);
    g.status = StreamGroupStatus::ActiveWithErrors;
    g.locations.push(location("eu-central-1", LocationStatus::Error));
    g.locations.push(location("ap-northeast-1", LocationStatus::Error));
    let key = repair_key("eu-central-1");
    let plan = run(&observed(g.clone()));
    assert_eq!(actions(&plan), ["remove_location", "remove_location"]);
    let refused = plan.items[0].effect.on_failure.as_ref().unwrap().set[&key].clone();

    // One removed, the other still in ERROR: the group is ACTIVE_WITH_ERRORS, so no add yet.
    let mut one_removed = g.clone();
    one_removed.locations.retain(|l| l.name != "eu-central-1");
    let record = plan.items[0].effect.before.as_ref().unwrap().set[&key].clone();
    one_removed.tags.insert(key.clone(), record);
    let mut waiting = run(&observed(one_removed.clone()));
    waiting.items.retain(|i| i.kind.name() != "remove_location");
    assert!(waiting.items.is_empty(), "{:?}", waiting.items);
    assert!(waiting.notes.iter().any(|n| n.note.contains("once the group is ACTIVE (it is ACTIVE_WITH_ERRORS)")));

    // Refused for the group's state (the executor writes the error kind): recreate instead.
    let mut refused_for_state = g.clone();
    refused_for_state.tags.insert(key.clone(), refused.replace(FAILURE_KIND, "validation"));
    let plan = run(&observed(refused_for_state));
    assert_eq!(actions(&plan), ["create_replacement"], "{:?}", plan.items);
    assert!(plan.items[0].reason.contains("active_with_errors"), "{}", plan.items[0].reason);

    // Refused for another reason (throttled): the repair waits out its back-off.
    let mut throttled = g.clone();
    throttled.tags.insert(key, refused.replace(FAILURE_KIND, "throttled"));
    let plan = run(&observed(throttled));
    assert!(!actions(&plan).contains(&"create_replacement".to_owned()), "{:?}", plan.items);
}

#[test]
fn the_studios_default_application_is_restored_before_the_cutover_once_ready() {
    let old = group("sg-A", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]);
    let mut new = replacement("sg-A", &[]);
    new.associated_applications = old.associated_applications.clone();
    new.default_application = Some(ApplicationRef { id: Some("a-2".into()), arn: Some("arn:app/a-2".into()) });
    let plan = run(&with_replacement(observed(old.clone()), &new));
    assert_eq!(actions(&plan), ["restore_default_application"]);
    assert_eq!(
        plan.items[0].effect.call,
        Call::Write(Write::SetDefaultApplication { group_id: "sg-N".into(), application: "arn:app/a-1".into() })
    );
    new.default_application = old.default_application.clone();
    assert_eq!(actions(&run(&with_replacement(observed(old), &new))), ["announce_cutover"]);
}

#[test]
fn waits_end_at_their_exact_instant_even_between_whole_seconds() {
    // A run at xx:xx:xx.789 against a cut-over recorded in whole seconds.
    let at = |seconds: i64, millis: i64| now() + Duration::seconds(seconds) + Duration::milliseconds(millis);
    let mut old = group("sg-A", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]);
    old.tags.insert(state::CUTOVER_AT.into(), now().timestamp().to_string());
    let mut new = replacement("sg-A", &[]);
    new.associated_applications = old.associated_applications.clone();
    let o = with_replacement(observed(old.clone()), &new);
    let s = settings();
    let grace = s.grace.num_seconds();
    assert!(actions(&plan(std::slice::from_ref(&o), at(grace - 1, 789), &s)).is_empty(), "still in the grace");
    assert_eq!(actions(&plan(std::slice::from_ref(&o), at(grace, 0), &s)), ["delete_old_group", "announce_retired"]);

    // The stream URL wait, to the second.
    let mut o = o;
    o.stream_urls = vec![StreamUrl {
        arn: "arn:aws:gameliftstreams:us-west-2:111122223333:streamurl/sg-A/su-1".into(),
        id: "su-1".into(),
        status: StreamUrlStatus::Active,
        expires_at: None,
        remaining_uses: None,
        description: None,
    }];
    let wait = s.stream_url_max_wait.num_seconds();
    assert!(actions(&plan(std::slice::from_ref(&o), at(wait - 1, 999), &s)).is_empty());
    assert_eq!(actions(&plan(std::slice::from_ref(&o), at(wait, 0), &s)), ["delete_old_group", "announce_retired"]);

    // A repaired location is forgotten exactly when it has stayed healthy for REPAIR_STABLE_HOURS.
    let mut g = group("sg-B", 3, &[("watchdog:recycle", "true")]);
    g.locations.push(location("eu-central-1", LocationStatus::Active));
    let record = RepairRecord {
        spec: location_spec(&g.locations[1]),
        attempts: 1,
        retry_after: None,
        added_back_at: Some(now()),
        removal_failure: None,
    };
    g.tags.insert(repair_key("eu-central-1"), encode_repair(&record));
    let stable = s.repair_stable.num_seconds();
    assert!(actions(&plan(&[observed(g.clone())], at(stable - 1, 789), &s)).is_empty());
    assert_eq!(actions(&plan(&[observed(g)], at(stable, 0), &s)), ["forget_location"]);

    // A replacement ACTIVATING (created at now()) is waited for up to ACTIVATION_TIMEOUT_MINUTES
    // inclusive; a millisecond longer, it counts as failed.
    let old = group("sg-C", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]);
    let mut new = replacement("sg-C", &[]);
    new.status = StreamGroupStatus::Activating;
    let o = with_replacement(observed(old), &new);
    let ceiling = s.activation_timeout.num_seconds();
    for waiting in [at(ceiling - 1, 789), at(ceiling, 0)] {
        assert!(actions(&plan(std::slice::from_ref(&o), waiting, &s)).is_empty(), "{waiting}");
    }
    let failed = actions(&plan(std::slice::from_ref(&o), at(ceiling, 1), &s));
    assert_eq!(failed.first().map(String::as_str), Some("record_failed_replacement"), "{failed:?}");
}

#[test]
fn a_group_whose_tags_were_not_read_may_be_the_replacement_so_nothing_is_created_or_unlinked() {
    let due = group("sg-OLD", 29, &[("watchdog:recycle", "true")]);
    // No link and no claimant seen, but one listed group's tags were not read.
    let mut o = observed(due.clone());
    assert_eq!(actions(&run(&o)), ["create_replacement"], "with every tag read, the recreation starts");
    o.unread_groups = vec!["sg-N".into()];
    let plan = run(&o);
    assert!(plan.items.is_empty(), "{:#?}", plan.items);
    assert!(plan.notes.iter().any(|n| n.note.contains("the tags of sg-N could not be read")), "{:#?}", plan.notes);
    // Not due: nothing to hold, nothing said.
    let mut young = observed(group("sg-YOUNG", 3, &[("watchdog:recycle", "true")]));
    young.unread_groups = vec!["sg-N".into()];
    let plan = run(&young);
    assert!(plan.items.is_empty() && plan.notes.is_empty(), "{plan:#?}");

    // The link names a group that was listed, only its tags unread: the link stays.
    let mut linked = observed(group("sg-OLD", 29, &[("watchdog:recycle", "true"), (state::REPLACEMENT, "sg-N")]));
    linked.replacement = Some(Replacement::Missing("sg-N".into()));
    assert_eq!(actions(&run(&linked)), ["unlink"], "a replacement that is gone is unlinked");
    linked.unread_groups = vec!["sg-N".into()];
    assert!(run(&linked).items.is_empty(), "one that exists is not");
}
