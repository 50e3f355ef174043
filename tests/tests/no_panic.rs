//! No input makes a function panic: every configuration variable of every function, and every
//! event shape, is fed random strings and random JSON (a fixed-seed generator, so a failure
//! repeats), and must come back as a value or as an error that names the input.

use serde_json::{Map, Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind};
use watchdog_core::env_config::FromEnv;
use watchdog_tests::config_reference::variables_read;

/// xorshift64*: small, deterministic, good enough to spread inputs.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A string from pieces that break parsers: digits, signs, units, separators, huge and
    /// tiny numbers, multi-byte characters, names that nearly fit.
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "0",
            "1",
            "5",
            "-",
            "+",
            ".",
            "e",
            "99999999999999",
            "18446744073709551616",
            "1e308",
            "NaN",
            "inf",
            "m",
            "h",
            "d",
            "s",
            "é",
            "日本",
            "🎮",
            " ",
            ",",
            ";",
            ">",
            "<",
            "=",
            "/",
            ":",
            "*",
            "?",
            "true",
            "false",
            "ACTIVE",
            "CONNECTED",
            "ACTIVATING",
            "PENDING_CLIENT_RECONNECTION",
            "us-west-2",
            "Europe/Berlin",
            "UTC",
            "MON-FRI",
            "0-7",
            "arn:aws:sns:us-west-2:111122223333:t",
            "aws:",
            "watchdog:",
            "sg-",
            "location",
            "account",
            "group",
            "{",
            "}",
            "\"",
            "[",
            "]",
            "\\",
            "\u{0}",
        ];
        let pieces = self.below(8);
        (0..pieces).map(|_| self.pick(PIECES)).collect()
    }

    /// Random text, half the time behind a head that gets past the first checks of
    /// `variable`, so the parser's later steps see random input too.
    fn value_for(&mut self, variable: &str) -> String {
        let head = match variable {
            "END_SESSIONS" => self.pick(&["ACTIVE>", "CONNECTED>", "PENDING_CLIENT_RECONNECTION>", "RECONNECTING>"]),
            "OFF_HOURS" => self.pick(&["Europe/Berlin ", "UTC * ", "America/Los_Angeles * 1-9 "]),
            "REGIONS" => "us-west-2,",
            "PRICE_TABLE" => "{\"gen5n_high\": ",
            "EXPIRY_THRESHOLDS_DAYS" => "30,",
            _ => "",
        };
        let text = self.text();
        if self.below(2) == 0 { format!("{head}{text}") } else { text }
    }

    fn json(&mut self, depth: usize) -> Value {
        match self.below(if depth == 0 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(self.below(3) == 0),
            2 => json!(self.next() as i64),
            3 => json!(self.text()),
            4 => json!(f64::from_bits(self.next()).is_finite().then_some(1.5)),
            5 => Value::Array((0..self.below(4)).map(|_| self.json(depth - 1)).collect()),
            _ => {
                const KEYS: &[&str] = &[
                    "trigger",
                    "dry_run",
                    "regions",
                    "stream_groups",
                    "detail-type",
                    "detail",
                    "Records",
                    "Sns",
                    "Message",
                    "source",
                    "id",
                    "version",
                    "account",
                    "time",
                    "region",
                    "resources",
                    "finding",
                ];
                let mut map = Map::new();
                for _ in 0..self.below(5) {
                    let key = self.pick(KEYS).to_owned();
                    map.insert(key, self.json(depth - 1));
                }
                Value::Object(map)
            }
        }
    }
}

/// Every variable the function reads (as its parser reports them), alone with random values,
/// then all of them at once.
fn config_never_panics<C: FromEnv>(function: &str, random: &mut Random) {
    let names = variables_read::<C>();
    let variables: Vec<&str> = names.iter().map(String::as_str).collect();
    let variables = &variables[..];
    for round in 0..3000 {
        let mut values: Vec<(String, String)> = vec![("AWS_REGION".into(), "us-west-2".into())];
        if round % 3 == 0 {
            values.extend(variables.iter().map(|v| (v.to_string(), random.value_for(v))));
        } else {
            let variable = random.pick(variables);
            values.push((variable.to_owned(), random.value_for(variable)));
        }
        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let outcome = catch_unwind(AssertUnwindSafe(|| C::from_pairs(&pairs).map(|_| ()).map_err(|e| e.to_string())));
        match outcome {
            Ok(Err(message)) => assert!(
                variables.iter().chain(["AWS_REGION", "REGIONS"].iter()).any(|v| message.contains(v)),
                "{function}: the error names no variable: {message}"
            ),
            Ok(Ok(())) => {}
            Err(_) => panic!("{function} panicked on {pairs:?}"),
        }
    }
}

#[test]
fn no_configuration_value_panics_and_every_error_names_its_variable() {
    let mut random = Random(0x5EED_CAFE_F00D_1234);
    config_never_panics::<gls_watchdog_scanner::Config>("scanner", &mut random);
    config_never_panics::<gls_watchdog_recycler::Config>("recycler", &mut random);
    config_never_panics::<gls_watchdog_trimmer::Config>("trimmer", &mut random);
}

#[test]
fn no_event_panics() {
    let mut random = Random(0xFEED_BEEF_1234_5678);
    for _ in 0..5000 {
        let event = random.json(4);
        for (name, parse) in [
            ("scanner", (|e| gls_watchdog_scanner::event::parse(e).map(|_| ())) as fn(Value) -> Result<(), _>),
            ("recycler", |e| gls_watchdog_recycler::event::parse(e).map(|_| ())),
            ("trimmer", |e| gls_watchdog_trimmer::event::parse(e).map(|_| ())),
        ] {
            let outcome = catch_unwind(AssertUnwindSafe(|| parse(event.clone())));
            assert!(outcome.is_ok(), "the {name} event parser panicked on {event}");
        }
    }
}

#[test]
fn the_inputs_found_by_hand_are_refused_not_panicked_on() {
    for value in ["ACTIVE>5é", "ACTIVE>99999999999999h", "ACTIVE>-5m", "CONNECTED>0m"] {
        let err = gls_watchdog_trimmer::Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("END_SESSIONS", value)])
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().starts_with("END_SESSIONS="), "{value}: {err}");
    }
}
