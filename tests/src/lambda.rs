//! The real Lambda path for tests: `cargo lambda watch` serving a function binary with an
//! environment of our choosing, `cargo lambda invoke` calling it with the fixtures in
//! `events/`, and LocalStack (started by scripts/test) standing in for CloudWatch, SNS and SQS.

use aws_config::{BehaviorVersion, Region};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_owned()
}

pub fn event_file(name: &str) -> PathBuf {
    workspace_root().join("events").join(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// What every function needs to run locally: a region, dummy credentials, the emulator and
/// LocalStack as its endpoints, and the emulator's clock as "now".
pub fn local_env(emulator_url: &str, localstack_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-west-2".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_ENDPOINT_URL_GAMELIFTSTREAMS", emulator_url.to_owned()),
        ("AWS_ENDPOINT_URL_CLOUDWATCH", localstack_url.to_owned()),
        ("AWS_ENDPOINT_URL_SNS", localstack_url.to_owned()),
        // The hub's scanner assumes the spokes' read roles there.
        ("AWS_ENDPOINT_URL_STS", localstack_url.to_owned()),
        ("AWS_ENDPOINT_URL_EVENTBRIDGE", localstack_url.to_owned()),
        // The hub's digest reads the map's results there.
        ("AWS_ENDPOINT_URL_S3", localstack_url.to_owned()),
        ("WATCHDOG_CLOCK_URL", format!("{emulator_url}/_emulator/clock")),
    ]
}

/// LocalStack's endpoint, from `LOCALSTACK_URL` (scripts/test starts it and sets it).
pub fn localstack_url() -> String {
    std::env::var("LOCALSTACK_URL").unwrap_or_else(|_| {
        panic!("LOCALSTACK_URL is not set: run ./scripts/test, which installs and starts LocalStack")
    })
}

/// AWS Organizations' endpoint (moto_server), from `ORGANIZATIONS_URL` (scripts/test starts
/// it and sets it).
pub fn organizations_url() -> String {
    std::env::var("ORGANIZATIONS_URL").unwrap_or_else(|_| {
        panic!("ORGANIZATIONS_URL is not set: run ./scripts/test, which installs and starts moto_server")
    })
}

/// AWS clients for LocalStack in us-west-2.
pub struct LocalAws {
    pub url: String,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    /// Path-style, as LocalStack serves buckets on 127.0.0.1.
    pub s3: aws_sdk_s3::Client,
}

/// A message that reached an SQS queue subscribed to a topic.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub subject: Option<String>,
    /// The message's `sqs` variant, parsed.
    pub payload: Value,
    pub attributes: serde_json::Map<String, Value>,
}

impl QueuedMessage {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name)?.get("Value")?.as_str()
    }
}

impl LocalAws {
    pub async fn connect() -> Self {
        Self::connect_as("test").await
    }

    /// As `connect`, signed with `access_key_id`: LocalStack takes a 12-digit one as the account.
    pub async fn connect_as(access_key_id: &str) -> Self {
        let url = localstack_url();
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-west-2"))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(access_key_id, "test", None, None, "tests"))
            .endpoint_url(&url)
            .load()
            .await;
        Self {
            url,
            cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            events: aws_sdk_eventbridge::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build()),
        }
    }

    /// An SQS queue named `name`, and its ARN.
    async fn queue(&self, name: &str) -> (String, String) {
        let queue = self.sqs.create_queue().queue_name(name).send().await.expect("CreateQueue");
        let queue_url = queue.queue_url().expect("queue URL").to_owned();
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("GetQueueAttributes");
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("queue ARN")
            .clone();
        (queue_url, queue_arn)
    }

    /// An EventBridge bus named `name` whose rule sends every gls-watchdog event to an SQS
    /// queue of the same name: the bus's name and the queue's URL.
    pub async fn bus_with_queue(&self, name: &str) -> (String, String) {
        self.events.create_event_bus().name(name).send().await.expect("CreateEventBus");
        let (queue_url, queue_arn) = self.queue(name).await;
        self.events
            .put_rule()
            .name(name)
            .event_bus_name(name)
            .event_pattern(r#"{"source": ["gls-watchdog"]}"#)
            .send()
            .await
            .expect("PutRule");
        let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(queue_arn).build().expect("target");
        self.events.put_targets().rule(name).event_bus_name(name).targets(target).send().await.expect("PutTargets");
        (name.to_owned(), queue_url)
    }

    /// Every event that reaches `queue_url` within `quiet` of the last one, as EventBridge
    /// delivers it (the whole event, envelope and detail).
    pub async fn drain_events(&self, queue_url: &str, quiet: Duration) -> Vec<Value> {
        self.receive_all(queue_url, quiet)
            .await
            .iter()
            .map(|body| serde_json::from_str(body).expect("an event"))
            .collect()
    }

    /// Every message body that arrives within `quiet` of the last one, each deleted once read.
    async fn receive_all(&self, queue_url: &str, quiet: Duration) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(quiet.as_secs().max(1) as i32)
                .send()
                .await
                .expect("ReceiveMessage");
            if out.messages().is_empty() {
                return bodies;
            }
            for message in out.messages() {
                bodies.push(message.body().unwrap_or("{}").to_owned());
                let receipt = message.receipt_handle().unwrap_or_default();
                self.sqs.delete_message().queue_url(queue_url).receipt_handle(receipt).send().await.expect("Delete");
            }
        }
    }

    pub async fn topic_with_queue(&self, name: &str) -> (String, String) {
        let topic = self.sns.create_topic().name(name).send().await.expect("CreateTopic");
        let topic_arn = topic.topic_arn().expect("topic ARN").to_owned();
        let (queue_url, queue_arn) = self.queue(name).await;
        self.sns.subscribe().topic_arn(&topic_arn).protocol("sqs").endpoint(queue_arn).send().await.expect("Subscribe");
        (topic_arn, queue_url)
    }

    /// Every message that arrives within `quiet` of the last one (SNS to SQS is asynchronous).
    pub async fn drain(&self, queue_url: &str, quiet: Duration) -> Vec<QueuedMessage> {
        let bodies = self.receive_all(queue_url, quiet).await;
        bodies
            .iter()
            .map(|body| {
                let envelope: Value = serde_json::from_str(body).expect("SNS envelope");
                let payload =
                    serde_json::from_str(envelope["Message"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
                QueuedMessage {
                    subject: envelope["Subject"].as_str().map(str::to_owned),
                    payload,
                    attributes: envelope["MessageAttributes"].as_object().cloned().unwrap_or_default(),
                }
            })
            .collect()
    }
}

/// A value as an env file holds it: quoted where the parser would otherwise stop, as at the
/// space and parentheses of "rate(1 hour)" (single quotes keep everything inside literal).
fn env_file_value(value: &str) -> String {
    let plain = value.chars().all(|c| c.is_ascii_alphanumeric() || "_-.,:/@{}[]\"*+=".contains(c));
    if plain || value.is_empty() {
        value.to_owned()
    } else {
        assert!(!value.contains('\''), "an env file cannot hold {value:?} in single quotes");
        format!("'{value}'")
    }
}

/// `cargo lambda watch` on a free port with the given environment; stopped (its whole
/// process group) when dropped.
pub struct LambdaWatch {
    pub port: u16,
    child: Child,
    env_file: PathBuf,
    log_file: PathBuf,
}

impl LambdaWatch {
    pub fn start(name: &str, env: &[(&str, String)]) -> Self {
        Self::start_with(name, env, false)
    }

    /// As `start`, building the functions with the release profile when `release` is set.
    pub fn start_with(name: &str, env: &[(&str, String)], release: bool) -> Self {
        let port = free_port();
        // Outside the workspace, so watch never sees it change.
        let env_file = std::env::temp_dir().join(format!("watchdog-{name}-{port}.env"));
        let text: String = env.iter().map(|(k, v)| format!("{k}={}\n", env_file_value(v))).collect();
        std::fs::write(&env_file, text).expect("write env file");
        let log_file = std::env::temp_dir().join(format!("watchdog-{name}-{port}.log"));
        let log = std::fs::File::create(&log_file).expect("log");
        let mut command = Command::new("cargo");
        command
            .args(["lambda", "watch", "--ignore-changes", "-A", "127.0.0.1", "-P", &port.to_string()])
            .args(if release { &["--release"][..] } else { &[][..] })
            .arg("--env-file")
            .arg(&env_file)
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("cargo lambda watch (is cargo-lambda on PATH? run ./scripts/test)");
        let watch = Self { port, child, env_file, log_file };
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "cargo lambda watch did not listen on {port}");
            std::thread::sleep(Duration::from_millis(200));
        }
        watch
    }

    /// SIGKILLs the running `binary` started by this watch, as a Lambda sandbox dies mid-run.
    /// `cargo lambda watch` neither answers the invocation in flight nor starts the function
    /// again: start a new watch afterwards, as Lambda starts a new sandbox. Whether one was running.
    /// The function runs in a session of its own, so it is found among the watch's descendants.
    pub fn kill_function(&self, binary: &str) -> bool {
        let Ok(out) = Command::new("ps").args(["-eo", "pid=,ppid=,args="]).output() else { return false };
        let processes: Vec<(u32, u32, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let pid = fields.next()?.parse().ok()?;
                let ppid = fields.next()?.parse().ok()?;
                Some((pid, ppid, fields.collect::<Vec<_>>().join(" ")))
            })
            .collect();
        let mut family = vec![self.child.id()];
        let mut i = 0;
        while i < family.len() {
            let parent = family[i];
            family.extend(processes.iter().filter(|(_, ppid, _)| *ppid == parent).map(|(pid, _, _)| *pid));
            i += 1;
        }
        // Whatever the target directory is called (CARGO_TARGET_DIR may name any).
        let suffixes = [format!("/debug/{binary}"), format!("/release/{binary}")];
        let victims: Vec<u32> = processes
            .iter()
            .filter(|(pid, _, args)| family.contains(pid) && suffixes.iter().any(|s| args.ends_with(s.as_str())))
            .map(|(pid, _, _)| *pid)
            .collect();
        for pid in &victims {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
        !victims.is_empty()
    }

    /// What `cargo lambda watch` and the functions it ran have printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// Invokes `function` with a JSON payload; Ok(report) or Err(the function's error text).
    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Value, String> {
        let data = payload.to_string();
        self.run_invoke(function, &["--data-ascii", &data]).await
    }

    /// Invokes `function` with a fixture from `events/`.
    pub async fn invoke_file(&self, function: &str, event: &str) -> Result<Value, String> {
        let path = event_file(event);
        self.run_invoke(function, &["--data-file", path.to_str().expect("utf-8 path")]).await
    }

    /// Asynchronous, so an emulator served by this test's runtime keeps answering meanwhile.
    async fn run_invoke(&self, function: &str, data: &[&str]) -> Result<Value, String> {
        let output = tokio::process::Command::new("cargo")
            .args([
                "lambda",
                "invoke",
                function,
                "-A",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
                "--output-format",
                "json",
            ])
            .args(data)
            .current_dir(workspace_root())
            // An invocation given up on (its function killed) does not outlive the test.
            .kill_on_drop(true)
            .output()
            .await
            .expect("cargo lambda invoke");
        if output.status.success() {
            serde_json::from_slice(&output.stdout)
                .map_err(|e| format!("report is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
        } else {
            Err(format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
        }
    }
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let _ = Command::new("kill").arg("--").arg(format!("-{}", self.child.id())).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.env_file);
    }
}
