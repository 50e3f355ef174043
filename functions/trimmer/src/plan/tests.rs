use super::*;
use watchdog_core::testkit::fixed_now as now;
use watchdog_core::{Capacity, Location};

fn settings() -> Settings {
    Settings {
        opt_in_tag: "watchdog:trim".into(),
        manage_all_groups: false,
        floor: 2,
        headroom_percent: 25,
        headroom_min: 1,
        cooldown: Duration::minutes(60),
        window: Duration::hours(24),
        min_history_share: 0.5,
        raise_share: 0.8,
        off_hours: None,
        trim_target_idle: false,
        sessions: SessionPolicy::default(),
    }
}

fn context(class: &StreamClass, always_on: u32, in_use: u32, peak: u32) -> LocationContext<'_> {
    LocationContext {
        class,
        current: Levels { always_on, target_idle: 0 },
        in_use,
        record: None,
        demand: Demand { peak: Some(peak), oldest: Some(now() - Duration::hours(20)) },
        placement_failures: 0,
        schedule: None,
        floor: 2,
        trim_target_idle: false,
    }
}

fn levels(always_on: u32, target_idle: u32) -> Levels {
    Levels { always_on, target_idle }
}

/// The record of a change the trimmer made for demand, `minutes_ago`: from `original`
/// always-on capacity to `set` (target-idle 0 on both sides).
fn demand_record(original: u32, set: u32, minutes_ago: i64) -> Record {
    Record {
        original: levels(original, 0),
        set: levels(set, 0),
        changed_at: now() - Duration::minutes(minutes_ago),
        why: ChangeReason::Demand,
        original_maximum: None,
    }
}

#[test]
fn lowers_to_peak_plus_headroom_rounded_to_tenancy() {
    let class = StreamClass::parse("gen4n_high"); // tenancy 2
    let Verdict::Change { to, original, why, .. } = decide(&context(&class, 10, 1, 2), now(), &settings()) else {
        panic!("expected a change")
    };
    // peak 2 + max(25% of 2 -> 1, 1) = 3, rounded up to 4.
    assert_eq!((to, original, why), (levels(4, 0), levels(10, 0), ChangeReason::Demand));
}

#[test]
fn floor_and_current_bound_the_target() {
    let class = StreamClass::parse("gen6n_small"); // tenancy 12
    let floor = |mut c: LocationContext<'_>| {
        c.floor = 13; // rounds up to 24
        decide(&c, now(), &settings())
    };
    let Verdict::Change { to, .. } = floor(context(&class, 36, 0, 0)) else { panic!() };
    assert_eq!(to, levels(24, 0));
    // Never above what is there now, whatever the floor says.
    assert_eq!(floor(context(&class, 12, 0, 0)), Verdict::Keep(None));
}

#[test]
fn hysteresis_cool_down_and_missing_history_keep_capacity() {
    let class = StreamClass::parse("gen6n_medium"); // tenancy 4
    // peak 5 + 2 = 7 -> 8 of 12: one step, so it changes; 8 -> 8 would not.
    assert!(matches!(decide(&context(&class, 12, 0, 5), now(), &settings()), Verdict::Change { .. }));
    assert_eq!(decide(&context(&class, 8, 0, 5), now(), &settings()), Verdict::Keep(None));

    let mut c = context(&class, 12, 0, 1);
    c.record = Some(demand_record(20, 12, 30));
    assert!(matches!(decide(&c, now(), &settings()), Verdict::Keep(Some(n)) if n.contains("cool-down")));

    let mut c = context(&class, 12, 0, 1);
    c.demand.oldest = Some(now() - Duration::hours(2));
    assert!(matches!(decide(&c, now(), &settings()), Verdict::Keep(Some(n)) if n.contains("history")));
    c.demand = Demand::default();
    assert!(matches!(decide(&c, now(), &settings()), Verdict::Keep(Some(n)) if n.contains("history")));
}

#[test]
fn demand_returning_restores_the_recorded_level() {
    let class = StreamClass::parse("gen4n_high");
    let record = demand_record(10, 4, 5);
    let mut c = context(&class, 4, 4, 2);
    c.record = Some(record);
    let Verdict::Change { to, why, .. } = decide(&c, now(), &settings()) else { panic!() };
    assert_eq!((to, why), (levels(10, 0), ChangeReason::DemandReturned), "in use 4 of 4, inside the cool-down");

    let mut c = context(&class, 4, 0, 2);
    c.record = Some(record);
    c.placement_failures = 2;
    assert!(matches!(decide(&c, now(), &settings()), Verdict::Change { to, .. } if to == levels(10, 0)));
}

#[test]
fn capacity_someone_else_changed_becomes_the_original() {
    let class = StreamClass::parse("gen4n_high");
    // The tag says the trimmer set 4, but capacity is 10: the change never happened (or
    // the user raised it). 10 is the level to keep.
    let mut c = context(&class, 10, 0, 2);
    c.record = Some(demand_record(10, 4, 1));
    let Verdict::Change { to, original, .. } = decide(&c, now(), &settings()) else { panic!() };
    assert_eq!((to, original), (levels(4, 0), levels(10, 0)), "no cool-down from a change that never landed");
}

#[test]
fn target_idle_is_trimmed_to_the_headroom_only_when_opted_in() {
    let class = StreamClass::parse("gen4n_high");
    let mut c = context(&class, 0, 2, 2);
    c.current = levels(0, 10);
    assert_eq!(decide(&c, now(), &settings()), Verdict::Keep(None), "the buffer is the studio's");
    c.trim_target_idle = true;
    let Verdict::Change { to, .. } = decide(&c, now(), &settings()) else { panic!() };
    // headroom 1 -> 2 (tenancy), floor 2.
    assert_eq!(to, levels(0, 2));
}

#[test]
fn off_hours_leave_target_idle_alone_unless_opted_in() {
    let class = StreamClass::parse("gen4n_high");
    let ScheduleSetting::Window(w) = ScheduleSetting::parse("UTC * 0-7,20-23 * * *").unwrap() else { panic!() };
    let night = now() + Duration::hours(10);
    let mut c = context(&class, 10, 0, 8);
    c.current = levels(10, 4);
    c.schedule = Some(&w);
    let Verdict::Change { to, .. } = decide(&c, night, &settings()) else { panic!() };
    assert_eq!(to, levels(2, 4));
    c.trim_target_idle = true;
    let Verdict::Change { to, .. } = decide(&c, night, &settings()) else { panic!() };
    assert_eq!(to, levels(2, 2));
}

#[test]
fn off_hours_go_to_the_floor_and_come_back() {
    let class = StreamClass::parse("gen4n_high");
    let ScheduleSetting::Window(w) = ScheduleSetting::parse("UTC * 0-7,20-23 * * *").unwrap() else { panic!() };
    let night = now() + Duration::hours(10); // 22:00
    let mut c = context(&class, 10, 6, 8);
    c.schedule = Some(&w);
    let Verdict::Change { to, why, .. } = decide(&c, night, &settings()) else { panic!() };
    assert_eq!((to, why), (levels(2, 0), ChangeReason::OffHours), "even with players: the window is the studio's call");

    let mut c = context(&class, 2, 0, 0);
    c.schedule = Some(&w);
    c.record = Some(Record {
        original: levels(10, 0),
        set: levels(2, 0),
        changed_at: night,
        why: ChangeReason::OffHours,
        original_maximum: None,
    });
    assert_eq!(decide(&c, night + Duration::hours(1), &settings()), Verdict::Keep(None));
    let morning = night + Duration::hours(10); // 08:00
    let Verdict::Change { to, why, .. } = decide(&c, morning, &settings()) else { panic!() };
    assert_eq!((to, why), (levels(10, 0), ChangeReason::OnHours));
}

#[test]
fn record_round_trips() {
    let r = Record {
        original: levels(10, 2),
        set: levels(4, 0),
        changed_at: now(),
        why: ChangeReason::OffHours,
        original_maximum: Some(12),
    };
    assert_eq!(r.encode(), format!("original=10/2;set=4/0;at={};why=off_hours;max=12", now().timestamp()));
    assert_eq!(Record::decode(&r.encode()), Some(r));
    assert_eq!(Record::decode("original=10;set=4/0"), None);
    // A record of an older version, without the maximum.
    let old = format!("original=10/2;set=4/0;at={};why=off_hours", now().timestamp());
    assert_eq!(Record::decode(&old), Some(Record { original_maximum: None, ..r }));
}

#[test]
fn session_policy_refuses_activating_and_names_errors() {
    let p = SessionPolicy::parse("PENDING_CLIENT_RECONNECTION>30m, CONNECTED>12h").unwrap();
    assert_eq!(p.limit_for(&StreamSessionStatus::Connected), Some(Duration::hours(12)));
    assert_eq!(p.limit_for(&StreamSessionStatus::Active), None);
    assert!(SessionPolicy::parse("ACTIVATING>5m").unwrap_err().contains("ACTIVATING"));
    assert!(SessionPolicy::parse("TERMINATED>5m").unwrap_err().contains("TERMINATED"));
    assert!(SessionPolicy::parse("ACTIVE>5d").unwrap_err().contains("5d"));
    assert!(SessionPolicy::parse("ACTIVE>5m,ACTIVE>6m").unwrap_err().contains("twice"));
    for bad in
        ["ACTIVE>5é", "ACTIVE>99999999999999h", "ACTIVE>-5m", "CONNECTED>0m", "ACTIVE>31d", "ACTIVE>m", "ACTIVE>"]
    {
        assert!(SessionPolicy::parse(bad).is_err(), "{bad} is refused");
    }
    assert!(SessionPolicy::parse("ACTIVE>720h").is_ok(), "30 days");
    assert!(SessionPolicy::parse("ACTIVE>43200m").is_ok(), "30 days in minutes");
    assert!(SessionPolicy::parse("ACTIVE>43201m").is_err(), "a minute more");
    assert!(SessionPolicy::parse("ACTIVE>1m").is_ok(), "the least");
    assert_eq!(SessionPolicy::parse("").unwrap(), SessionPolicy::default());
}

fn observed(tags: &[(&str, &str)], sessions: Vec<StreamSession>) -> Observed {
    let mut group = StreamGroup::new("sg-1", "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-1");
    group.stream_class = Some(StreamClass::parse("gen4n_high"));
    group.tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    group.locations = vec![Location {
        name: "us-west-2".into(),
        status: LocationStatus::Active,
        capacity: Capacity { always_on: Some(10), maximum: Some(10), allocated: 10, idle: 9, ..Capacity::default() },
        vpc_transit: None,
    }];
    let demand =
        BTreeMap::from([("us-west-2".to_owned(), Demand { peak: Some(1), oldest: Some(now() - Duration::hours(23)) })]);
    Observed { group, demand, sessions }
}

fn session(status: StreamSessionStatus, minutes: i64) -> StreamSession {
    let at = now() - Duration::minutes(minutes);
    // One session per status: the status numbers it.
    let n = StreamSessionStatus::KNOWN.iter().position(|s| *s == status).unwrap_or(0);
    watchdog_core::testkit::session("us-west-2", "sg-1", n, status, "us-west-2", at, at)
}

#[test]
fn locations_whose_update_would_reset_settings_are_left_alone_and_reported() {
    let s = Settings { manage_all_groups: true, ..settings() };
    type Change = fn(&mut Observed);
    let cases: [(&str, Change); 3] = [
        ("MaximumCapacity is not reported", |o| o.group.locations[0].capacity.maximum = None),
        ("deprecated OnDemandCapacity", |o| {
            o.group.locations[0].capacity.maximum = None;
            o.group.locations[0].capacity.on_demand = Some(4);
        }),
        ("no known tenancy", |o| o.group.stream_class = Some(StreamClass::parse("gen9n_mega"))),
    ];
    let reasons = ["maximum_unknown", "on_demand_capacity", "unknown_tenancy"];
    for ((why, change), reason) in cases.into_iter().zip(reasons) {
        let mut o = observed(&[], vec![]);
        change(&mut o);
        let idle = o.group.locations[0].capacity.idle;
        assert!(idle > 0);
        let plan = plan(&[o.clone()], now(), &s);
        assert!(plan.items.is_empty(), "{why}: {:?}", plan.items);
        assert!(
            plan.notes.iter().any(|n| n.note.contains("left alone") && n.note.contains(why)),
            "{why}: {:?}",
            plan.notes
        );
        // Idle capacity it may not lower waits for a person: a blocked step every run.
        assert_eq!(plan.blocked.iter().map(|b| b.reason.as_str()).collect::<Vec<_>>(), [reason], "{why}");
        o.group.locations[0].capacity.idle = 0;
        assert!(super::plan(&[o], now(), &s).blocked.is_empty(), "{why}: nothing idle, nothing waits");
    }
    let mut stack = observed(&[("watchdog:trim", "true"), (opt_in::CFN_STACK_TAG, "games")], vec![]);
    stack.group.locations[0].capacity.maximum = None;
    assert!(plan(&[stack], now(), &settings()).blocked.is_empty(), "a stack's group is never changed");
    assert_eq!(plan(&[observed(&[], vec![])], now(), &s).items.len(), 1, "with every setting known it trims");
}

#[test]
fn sessions_end_only_where_the_policy_names_them() {
    let mut s = settings();
    s.sessions = SessionPolicy::parse("PENDING_CLIENT_RECONNECTION>30m").unwrap();
    let sessions = vec![
        session(StreamSessionStatus::PendingClientReconnection, 45),
        session(StreamSessionStatus::PendingClientReconnection, 10),
        session(StreamSessionStatus::Activating, 600),
        session(StreamSessionStatus::Connected, 600),
    ];
    let plan = plan(&[observed(&[("watchdog:trim", "true")], sessions)], now(), &s);
    let ended: Vec<_> = plan.items.iter().filter(|i| i.kind.name() == "end_session").collect();
    assert_eq!(ended.len(), 1);
    assert!(matches!(&ended[0].kind, TrimmerStep::EndSession { minutes_in_status: 45, .. }));
}

#[test]
fn opt_in_opt_out_and_cloudformation() {
    let s = settings();
    assert!(plan(&[observed(&[], vec![])], now(), &s).items.is_empty());
    let opted_out = plan(&[observed(&[("watchdog:trim", "false")], vec![])], now(), &s);
    assert!(opted_out.items.is_empty() && opted_out.notes[0].note.contains("opted out"));
    let stack = plan(&[observed(&[("watchdog:trim", "true"), (opt_in::CFN_STACK_TAG, "games")], vec![])], now(), &s);
    assert!(stack.items.is_empty());
    assert_eq!(stack.reported_only.len(), 1);
    let opted_in = plan(&[observed(&[("watchdog:trim", "true")], vec![])], now(), &s);
    let TrimmerStep::SetCapacity { to, capacity_hours_per_day, .. } = &opted_in.items[0].kind else { panic!() };
    assert_eq!(*to, levels(2, 0));
    assert_eq!(*capacity_hours_per_day, 8.0 * 24.0);
}
