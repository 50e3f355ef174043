//! The organisation benchmark (scripts/bench): 20 targets (accounts) of 200 stream groups each
//! on one release-built emulator with the documented rate limits, which are per account and
//! Region. The hub's state machine is driven from its own definition (each child's payload from
//! the map's ItemSelector, `max_concurrency` children at a time); each child is the
//! release-built scanner in a process of its own, as Lambda runs it, served one invocation by a
//! local stand-in of the Lambda Runtime API, assuming the target's role through LocalStack's
//! STS. Then the digest state's invocation. The wall time is compared with the slowest
//! target's rate-limit bound and with the sum of the bounds (what one scan after the other
//! would take).

use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use watchdog_tests::asl::{definition, map_children, map_output, select, task_output, task_payload};
use watchdog_tests::bench::{fleet_with, lambda_process, peak_memory_mib, rate_bound, start_emulator};
use watchdog_tests::lambda::{LocalAws, local_env, workspace_root};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_owned())
}

/// What a child invocation returned, and what it took.
struct Invocation {
    /// The function's response, or its error document.
    result: Result<Value, Value>,
    /// From spawning the process to its response.
    elapsed: Duration,
    peak_mib: Option<f64>,
}

/// One HTTP/1.1 request: method and path, and the body.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// A stand-in of the Lambda Runtime API for one invocation: `event` for the first
/// `GET .../invocation/next`, then the response (or error) POSTed for it is sent on `done`.
/// Later `next` requests are left unanswered (the process is stopped once it has answered).
fn runtime_api(event: Value, done: mpsc::Sender<Result<Value, Value>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        let handed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for stream in listener.incoming().flatten() {
            let (event, done, handed) = (event.clone(), done.clone(), handed.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut stream = stream;
                while let Some((method, path, body)) = read_request(&mut reader) {
                    if method == "GET" && path.ends_with("/runtime/invocation/next") {
                        if handed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_secs(3600));
                            return;
                        }
                        let deadline = chrono::Utc::now().timestamp_millis() + 600_000;
                        let headers = [
                            ("Content-Type", "application/json".to_owned()),
                            ("Lambda-Runtime-Aws-Request-Id", "bench-1".to_owned()),
                            ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                            (
                                "Lambda-Runtime-Invoked-Function-Arn",
                                "arn:aws:lambda:us-west-2:999988887777:function:gls-watchdog-hub-scanner".to_owned(),
                            ),
                            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000".to_owned()),
                        ];
                        respond(&mut stream, "200 OK", &headers, event.to_string().as_bytes());
                    } else if method == "POST" {
                        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        respond(&mut stream, "202 Accepted", &[], b"{}");
                        let _ = done.send(if path.ends_with("/response") { Ok(value) } else { Err(value) });
                    } else {
                        respond(&mut stream, "404 Not Found", &[], b"{}");
                    }
                }
            });
        }
    });
    address
}

/// The release scanner in a process of its own, given `event` by the Runtime API stand-in.
fn invoke(binary: &std::path::Path, env: &[(&str, String)], event: Value) -> Invocation {
    let (tx, rx) = mpsc::channel();
    let api = runtime_api(event, tx);
    let started = Instant::now();
    let mut child = lambda_process(binary, "gls-watchdog-hub-scanner", &api)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    let result = rx.recv_timeout(Duration::from_secs(900)).unwrap_or_else(|_| Err(json!("no answer in 900 s")));
    let elapsed = started.elapsed();
    let peak_mib = peak_memory_mib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    Invocation { result, elapsed, peak_mib }
}

/// The busiest operation's bound for one target's report: the calls it made, at `share`.
fn target_bound(report: &Value, share: f64) -> (String, f64) {
    let calls = report["api_calls"].as_object().cloned().unwrap_or_default();
    calls
        .iter()
        .filter_map(|(op, c)| Some((op.clone(), rate_bound(op, c["attempts"].as_u64()?, share)?)))
        .fold((String::new(), 0.0), |best, (op, t)| if t > best.1 { (op, t) } else { best })
}

/// One run's figures.
struct Run {
    fleet: &'static str,
    wall: f64,
    slowest: f64,
    busiest: String,
    sum: f64,
    shortest: f64,
    longest: f64,
    throttles: u64,
    peak: f64,
    digest: Invocation,
    /// Seconds LocalStack took to answer one target's read of its expired groups' memory.
    memory_read: Option<f64>,
}

struct Settings {
    targets: usize,
    groups: usize,
    latency_ms: u64,
    share: f64,
}

/// The organisation's scan of `settings.targets` accounts, each with the benchmark's fleet
/// (with or without its expired groups), as the hub runs it.
async fn run(settings: &Settings, expired: bool, aws: &LocalAws) -> Run {
    let Settings { targets, groups, latency_ms, share } = *settings;
    let binary = workspace_root().join("target/release/gls-watchdog-scanner");
    let emulator = start_emulator(None, latency_ms).await;
    let http = reqwest::Client::new();
    let admin = |path: &str| emulator.admin(path);
    let accounts: Vec<String> = (1..=targets).map(|i| format!("{:012}", 100_000_000_000u64 + i as u64)).collect();
    let text = fleet_with(groups, expired);
    for account in &accounts {
        let loaded = http.post(format!("{}?account={account}", admin("fleet"))).body(text.clone()).send().await;
        let loaded = loaded.expect("load a fleet");
        assert!(loaded.status().is_success(), "{account}: {}", loaded.text().await.unwrap_or_default());
    }
    let unique = format!("{}-{expired}", std::process::id());
    let topic = |name: String| {
        let sns = aws.sns.clone();
        async move { sns.create_topic().name(name).send().await.expect("topic").topic_arn().expect("arn").to_owned() }
    };
    let findings = topic(format!("org-bench-findings-{unique}")).await;
    let digest = topic(format!("org-bench-digest-{unique}")).await;
    let bus = format!("org-bench-{unique}");
    aws.events.create_event_bus().name(&bus).send().await.expect("bus");
    let namespace = format!("WatchdogOrgBench/{unique}");
    // The hub scanner's environment (org/hub.yaml), pointed at the emulator and LocalStack.
    let mut env = local_env(&emulator.url, &aws.url);
    env.extend([
        ("REGIONS", "us-west-2".to_owned()),
        ("FINDINGS_TOPIC_ARN", findings),
        ("DIGEST_TOPIC_ARN", digest),
        ("METRIC_NAMESPACE", namespace.clone()),
        ("ALERT_MEMORY", "none".to_owned()),
        ("EVENT_BUS_NAME", bus),
        ("API_SHARE", share.to_string()),
    ]);

    let definition = definition("gls-watchdog-read", "gls-watchdog-hub-scanner");
    let map = &definition["States"]["ScanTargets"];
    let task = &map["ItemProcessor"]["States"]["ScanOneTarget"];
    let execution_input = json!({
        "targets": accounts.iter().map(|a| json!({ "account": a, "region": "us-west-2" })).collect::<Vec<_>>(),
        "organizational_units": [],
        "child_units": true,
        "max_concurrency": targets,
    });
    let concurrency = execution_input["max_concurrency"].as_u64().expect("max_concurrency") as usize;
    // The first state lists the targets; the map runs one child per target listed.
    let list_state = &definition["States"]["ListTargets"];
    let listed = invoke(&binary, &env, task_payload(list_state, &execution_input));
    let listed = listed.result.as_ref().unwrap_or_else(|e| panic!("the target list: {e}"));
    let map_input = task_output(list_state, &execution_input, listed);
    let children = map_children(&definition, &map_input);
    eprintln!("== {targets} targets of {groups} groups (expired groups: {expired}), {concurrency} at a time");

    let started = Instant::now();
    let mut invocations = Vec::new();
    for wave in children.chunks(concurrency) {
        let runs: Vec<_> = wave
            .iter()
            .map(|child| {
                let (binary, env, payload) = (binary.clone(), env.clone(), child.payload.clone());
                std::thread::spawn(move || invoke(&binary, &env, payload))
            })
            .collect();
        invocations.extend(runs.into_iter().map(|r| r.join().expect("a child")));
    }
    let wall = started.elapsed().as_secs_f64();

    // Each child's result as the task's ResultSelector shapes it, then the digest state.
    let mut results = Vec::new();
    let (mut bounds, mut times, mut throttles, mut peak) = (Vec::new(), Vec::new(), 0, 0.0f64);
    for (child, invocation) in children.iter().zip(&invocations) {
        let report = invocation.result.as_ref().unwrap_or_else(|e| panic!("{}: {e}", child.item));
        bounds.push(target_bound(report, share));
        times.push(invocation.elapsed.as_secs_f64());
        throttles +=
            report["api_calls"].as_object().map_or(0, |c| c.values().filter_map(|v| v["throttled"].as_u64()).sum());
        peak = peak.max(invocation.peak_mib.unwrap_or(0.0));
        results.push(select(&task["ResultSelector"], &json!({ "Payload": report }), &Value::Null));
    }
    let digest_state = &definition["States"][map["Next"].as_str().expect("the digest state")];
    let digest_input = map_output(map, &map_input, results, &aws.s3).await;
    let digest = invoke(&binary, &env, task_payload(digest_state, &digest_input));
    let digest_report = digest.result.as_ref().unwrap_or_else(|e| panic!("the digest: {e}"));
    assert_eq!(digest_report["organisation"]["targets"], targets, "{digest_report:#}");

    let (busiest, slowest) =
        bounds.iter().cloned().fold((String::new(), 0.0), |best, (op, t)| if t > best.1 { (op, t) } else { best });
    let memory_read = if expired { Some(time_memory_read(aws, &namespace, groups).await) } else { None };
    Run {
        fleet: if expired { "the benchmark's fleet (2% expired)" } else { "no expired groups" },
        wall,
        slowest,
        busiest,
        sum: bounds.iter().map(|(_, t)| t).sum(),
        shortest: times.iter().copied().fold(f64::MAX, f64::min),
        longest: times.iter().copied().fold(0.0, f64::max),
        throttles,
        peak,
        digest,
        memory_read,
    }
}

/// How long LocalStack takes to answer a read like one target's of its expired groups' alert
/// memory (one GetMetricData call, a query per expired group), once the run's datums are in.
async fn time_memory_read(aws: &LocalAws, namespace: &str, groups: usize) -> f64 {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let expired = (0..groups).filter(|i| i % 50 == 49).count();
    let queries: Vec<MetricDataQuery> = (0..expired)
        .map(|i| {
            let metric = Metric::builder()
                .namespace(namespace)
                .metric_name("ExpiredGroupAlerted")
                .dimensions(Dimension::builder().name("Region").value("us-west-2").build())
                .dimensions(Dimension::builder().name("StreamGroupId").value(format!("sg-{i}")).build())
                .build();
            MetricDataQuery::builder()
                .id(format!("q{i}"))
                .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Sum").build())
                .build()
        })
        .collect();
    let now = chrono::Utc::now().timestamp();
    let started = Instant::now();
    aws.cloudwatch
        .get_metric_data()
        .set_metric_data_queries(Some(queries))
        .start_time(aws_smithy_types::DateTime::from_secs(now - 86_400))
        .end_time(aws_smithy_types::DateTime::from_secs(now))
        .send()
        .await
        .expect("GetMetricData");
    started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let settings = Settings {
        targets: arg("--targets", "20").parse().expect("--targets: a number"),
        groups: arg("--groups", "200").parse().expect("--groups: a number"),
        latency_ms: arg("--latency-ms", "20").parse().expect("--latency-ms: a number"),
        share: arg("--share", "0.5").parse().expect("--share: a number"),
    };
    let out = arg("--out", "benchmarks/organisation.md");
    let aws = LocalAws::connect().await;
    let mut runs = Vec::new();
    for expired in [true, false] {
        let run = run(&settings, expired, &aws).await;
        eprintln!(
            "   wall {:.1} s, slowest target's bound {:.1} s ({}), sum {:.1} s, throttles {}, peak {:.1} MiB, memory read {:?}",
            run.wall, run.slowest, run.busiest, run.sum, run.throttles, run.peak, run.memory_read
        );
        runs.push(run);
    }
    let Settings { targets, groups, latency_ms, share } = settings;

    let mut md = String::new();
    writeln!(md, "# Organisation benchmark\n").unwrap();
    writeln!(
        md,
        "Reproduce with `./scripts/bench organisation` ({}). Machine: {} cores. {targets} targets (accounts, \
         us-west-2) of {groups} stream groups each (the scanner benchmark's fleet: 3 locations, 10 sessions a \
         group) on one release-built emulator with the documented rate limits, which are per account and Region, \
         and {latency_ms} ms added to every call. The hub's state machine is driven from its definition \
         (org/scan-organisation.asl.json: each child's payload from the map's ItemSelector, `max_concurrency` = \
         {targets}); each child is the release-built scanner in a process of its own, as Lambda runs it, \
         given its one invocation by a local stand-in of the Lambda Runtime API, with the hub's environment \
         (org/hub.yaml: alert memory in CloudWatch, findings and digest topics, the event bus, all on LocalStack) \
         and `API_SHARE={share}`; it assumes the target's role through LocalStack's STS. Then the digest \
         state's invocation over the {targets} results.\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
    )
    .unwrap();
    writeln!(md, "| fleet of each target | wall time (all targets) | slowest target's bound | ratio (target <= 1.2) | sum of the bounds (one after the other) | target times | throttles (target 0) | peak memory of a target's scanner | the digest invocation |").unwrap();
    writeln!(md, "|---|---|---|---|---|---|---|---|---|").unwrap();
    for r in &runs {
        writeln!(
            md,
            "| {} | {:.1} s | {:.1} s ({}) | {:.2} | {:.1} s | {:.1} to {:.1} s | {} | {:.1} MiB | {:.2} s, {} |",
            r.fleet,
            r.wall,
            r.slowest,
            r.busiest,
            r.wall / r.slowest.max(f64::MIN_POSITIVE),
            r.sum,
            r.shortest,
            r.longest,
            r.throttles,
            r.peak,
            r.digest.elapsed.as_secs_f64(),
            r.digest.peak_mib.map_or("not measured".to_owned(), |m| format!("{m:.1} MiB")),
        )
        .unwrap();
    }
    if let Some(read) = runs.iter().find_map(|r| r.memory_read) {
        writeln!(
            md,
            "\nWith expired groups, every target reads their alert memory from CloudWatch (one GetMetricData \
             call of a query per expired group, since this change; one call per group before it). LocalStack \
             answered one such call in {read:.1} s after the run and answers one call at a time (its log shows \
             them one after the other), so {targets} targets' reads alone take about {:.0} s here: that, not \
             the scans, sets the first row's wall time (on AWS the hub's children share the hub account's \
             GetMetricData quota, per Region: one call per target, not one per expired group, is what this change \
             keeps). The second row, the same fleets without expired groups, shows the scans' own parallelism.",
            read * targets as f64
        )
        .unwrap();
    }
    writeln!(
        md,
        "\nA target's bound is its busiest operation's: the calls its scan made, at `limit x share` per second \
         from a bucket holding one second's worth (`(calls - burst) / rate`), the same rule as the scanner \
         benchmark. The wall time runs from the first child's start to the last child's answer, including each \
         process's start and its role assumption. Each child is its own process, so the peak memory is one \
         Lambda's (the hub's function has 256 MB)."
    )
    .unwrap();
    let path = workspace_root().join(&out);
    std::fs::write(&path, md).expect("write the table");
    eprintln!("wrote {}", path.display());
}
