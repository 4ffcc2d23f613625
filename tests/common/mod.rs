//! The integration-test harness: a local AWS emulator per test, and helpers to run the
//! `infra` binary against it. Include it from a test file with `mod common;`.
//!
//! Each [`Emulator`] is its own moto server (tests/emulator/server.py) on a free loopback
//! port, so tests never share AWS state and can run in parallel. The server exits when
//! the `Emulator` is dropped, and also when the test process dies: it watches its stdin,
//! whose write end only this process holds.
#![allow(dead_code)] // every test binary compiles this module but uses only part of it

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// How long `Emulator::start` waits for the server's `INFRA_EMULATOR_PORT=` line.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const PORT_LINE_PREFIX: &str = "INFRA_EMULATOR_PORT=";
const REGION: &str = "us-east-1";

/// A running emulator (moto's server) on `127.0.0.1`.
pub struct Emulator {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    port: u16,
    child: Child,
    /// The server's stderr (moto's request log), kept for failure messages.
    stderr_log: tempfile::NamedTempFile,
}

impl Emulator {
    /// Ensures the venv (runs tests/emulator/ensure-venv.sh), starts server.py on port 0,
    /// waits for the port line (timeout 60s with a clear panic message including the
    /// server's stderr).
    pub fn start() -> Emulator {
        let (child, stderr_log, port) =
            start_server("the AWS emulator", "tests/emulator/server.py", &["--port", "0"], PORT_LINE_PREFIX);
        Emulator { endpoint: format!("http://127.0.0.1:{port}"), port, child, stderr_log }
    }

    /// The emulator's TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything the server wrote to stderr so far (moto's request log, errors), for
    /// failure messages.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_log.path()).unwrap_or_default()
    }

    /// Env vars for a child `infra` process or for the SDK: AWS_ENDPOINT_URL=<endpoint>,
    /// AWS_ACCESS_KEY_ID=testing, AWS_SECRET_ACCESS_KEY=testing, AWS_REGION=us-east-1,
    /// AWS_EC2_METADATA_DISABLED=true, and AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE
    /// pointing to /dev/null so no real profile is read.
    pub fn env(&self) -> Vec<(String, String)> {
        aws_env(&self.endpoint)
    }

    /// An `aws_config::SdkConfig` pointing at the emulator (static test credentials,
    /// region us-east-1), for checking results through the SDK in tests. It ignores the
    /// test process's environment and profile files, so it can never reach real AWS.
    ///
    /// S3 clients built from it need `force_path_style(true)` (see DESIGN.md).
    // aws-config's own names for the profile-file types are deprecated aliases of
    // aws-runtime's, which is not a dependency of ours.
    #[allow(deprecated)]
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
        let no_profiles = ProfileFiles::builder()
            .with_file(ProfileFileKind::Config, "/dev/null")
            .with_file(ProfileFileKind::Credentials, "/dev/null")
            .build();
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .empty_test_environment()
            .profile_files(no_profiles)
            .endpoint_url(self.endpoint.clone())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "infra-test-emulator",
            ))
            .load()
            .await
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the built `infra` binary with `args` in `dir`, with the emulator's env (and no
/// other `AWS_*` variable), stdin null, NO_COLOR=1; returns (exit code, stdout, stderr).
/// The exit code is -1 if `infra` was killed by a signal.
pub fn run_infra(emu: &Emulator, dir: &Path, args: &[&str]) -> (i32, String, String) {
    run_infra_via(&emu.endpoint, dir, args)
}

/// A fresh temporary project dir containing a copy of the repo's stacks/dev.toml as
/// stacks/dev.toml, the deploy/ bundles it deploys, and an empty state/ dir.
pub fn dev_project() -> tempfile::TempDir {
    let project = project_with("stacks/dev.toml", "dev");
    copy_dir(&repo_root().join("deploy"), &project.path().join("deploy"));
    project
}

/// Lifts the protection of the dev stack's data volume in the project's stack
/// file (`protect = true` becomes `protect = false`): the documented first step
/// of a full teardown, which an `infra apply` then records. Tests about
/// something else than protection (convergence, faults, secrets) call it
/// before their first apply, so that each destroy can delete everything.
pub fn unprotect_data(dir: &Path) {
    let path = dir.join("stacks/dev.toml");
    let text = std::fs::read_to_string(&path).expect("the project has stacks/dev.toml");
    assert_eq!(text.matches("protect = true").count(), 1, "the dev stack protects exactly its data volume");
    std::fs::write(&path, text.replace("protect = true", "protect = false")).expect("write stacks/dev.toml");
}

/// The stack of [`host_project`].
pub const HOST_STACK: &str = "host";

/// A fresh temporary project dir whose only stack is tests/fixtures/stacks/host.toml
/// (stack `host`): a security group, an `ec2.instance` beside a data volume, and the
/// volume's attachment, the EC2 shape the dev stack had before its host became the
/// Elastic Beanstalk environment's instance; and an empty state/ dir.
pub fn host_project() -> tempfile::TempDir {
    project_with("tests/fixtures/stacks/host.toml", HOST_STACK)
}

/// A temporary project with the repository's file `source` as stacks/<stack>.toml.
fn project_with(source: &str, stack: &str) -> tempfile::TempDir {
    let source = repo_root().join(source);
    let text =
        std::fs::read_to_string(&source).unwrap_or_else(|error| panic!("cannot read {}: {error}", source.display()));
    project_of(stack, &text)
}

/// A fresh temporary project dir whose only stack is `text`, as
/// stacks/<stack>.toml, and an empty state/ dir.
pub fn project_of(stack: &str, text: &str) -> tempfile::TempDir {
    let project =
        tempfile::Builder::new().prefix("infra-project-").tempdir().expect("create a temporary project directory");
    let stacks = project.path().join("stacks");
    std::fs::create_dir(&stacks).expect("create stacks/");
    std::fs::create_dir(project.path().join("state")).expect("create state/");
    std::fs::write(stacks.join(format!("{stack}.toml")), text).expect("write the project's stack file");
    project
}

/// Copies a directory tree (the bundles a stack deploys from).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display())) {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("cannot copy {}: {e}", target.display()));
        }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_python() -> PathBuf {
    repo_root().join(".venv/bin/python")
}

/// Runs tests/emulator/ensure-venv.sh once per test process (it locks against other
/// processes itself, and is quick once the venv is up to date): the emulator and the
/// real tools the bundle's tests run.
pub fn ensure_venv() {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    let result = RESULT.get_or_init(|| {
        let script = repo_root().join("tests/emulator/ensure-venv.sh");
        let output = Command::new("bash")
            .arg(&script)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("cannot run bash {}: {error}", script.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed ({}):\n{}{}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    if let Err(message) = result {
        panic!("cannot prepare the virtualenv (the AWS emulator and the test tools): {message}");
    }
}

/// The steps of a `plan --json` document that change something: (resource, action),
/// in plan order.
pub fn changed_steps(plan_json: &str) -> Vec<(String, String)> {
    let plan: serde_json::Value = serde_json::from_str(plan_json).expect("plan --json prints JSON");
    plan["steps"]
        .as_array()
        .expect("a plan has steps")
        .iter()
        .filter(|s| s["action"] != "no_op")
        .map(|s| (s["resource"].as_str().unwrap().to_string(), s["action"].as_str().unwrap().to_string()))
        .collect()
}

/// Clears every inherited `AWS_*` variable (profiles, real credentials, service-specific
/// endpoint overrides such as AWS_ENDPOINT_URL_EC2) from a child's environment.
fn remove_aws_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let name_str = name.to_string_lossy();
        if name_str.starts_with("AWS_")
            || name_str.starts_with("INFRA_STATE_")
            || name_str == "ELASTIC_PASSWORD"
            || name_str == "REDIS_PASSWORD"
        {
            command.env_remove(name);
        }
    }
}

/// The exit status of a server that closed its stdout, which normally means it is exiting.
fn exit_status_when_exiting(child: &mut Child) -> String {
    for _ in 0..50 {
        if let Ok(Some(status)) = child.try_wait() {
            return status.to_string();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    "still running after 5s".to_owned()
}

/// The env of a child `infra` process (or an SDK) talking to `endpoint`: see
/// [`Emulator::env`].
fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        // The dev stack's secrets, and the key state encrypts them with.
        ("ELASTIC_PASSWORD", ELASTIC_PASSWORD),
        ("REDIS_PASSWORD", REDIS_PASSWORD),
        ("INFRA_STATE_KEY", STATE_KEY),
        // The S3 lock's lease: short, so that a killed holder's lock lapses in
        // seconds (a test that needs a holder to outlast its waiters sets more).
        ("INFRA_LOCK_LEASE_SECS", LOCK_LEASE_SECS),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

/// The `ELASTIC_PASSWORD` every `infra` the tests run is given: a state file or
/// an output that holds it in plain text is a leak.
pub const ELASTIC_PASSWORD: &str = "test-elastic-password-5f3a";
/// The `REDIS_PASSWORD` every `infra` the tests run is given, likewise.
pub const REDIS_PASSWORD: &str = "test-redis-password-9c1e";
/// The `INFRA_STATE_KEY` every `infra` the tests run is given (32 bytes, hex).
pub const STATE_KEY: &str = "696e667261207465737420737461746520656e6372797074696f6e206b657921";
/// The S3 lock's lease every `infra` the tests run is given, in seconds.
pub const LOCK_LEASE_SECS: &str = "3";
/// The emulator's default account: what its `testing` credentials act in.
pub const ACCOUNT: &str = "123456789012";

/// The state store of a test project, with the key the tests' `infra` uses.
pub fn store(dir: &Path, stack: &str) -> infra::state::Store {
    let key = infra::secret::KeySource::from_values(Some(STATE_KEY), None);
    infra::state::Store::with_keys(dir.join("state"), stack, key)
}

/// The built `infra` binary with `args` in `dir`, as [`run_infra_via`] runs it
/// (stdout and stderr piped), for a test that runs several at once.
pub fn infra_command(endpoint: &str, dir: &Path, args: &[&str]) -> Command {
    command_of(Path::new(env!("CARGO_BIN_EXE_infra")), endpoint, dir, args)
}

/// [`infra_command`] for another binary with infra's command line (a stack program).
pub fn command_of(binary: &Path, endpoint: &str, dir: &Path, args: &[&str]) -> Command {
    assert!(endpoint.starts_with("http://127.0.0.1:"), "tests talk to loopback only, not {endpoint}");
    let mut command = Command::new(binary);
    command.args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    remove_aws_env(&mut command);
    command.envs(aws_env(endpoint)).env("NO_COLOR", "1");
    // The serials this "machine" has seen of each state: kept with the
    // project, not in the home directory of whoever runs the tests.
    command.env("INFRA_SEEN_DIR", dir.join(".infra-seen"));
    command
}

/// An S3 client on the emulator (path-style addressing, as infra's own).
pub async fn s3_client(emu: &Emulator) -> aws_sdk_s3::Client {
    infra::provider::s3_client(&emu.sdk_config().await)
}

/// Asserts that `bucket` encrypts by default with SSE-S3 and blocks all public access.
pub async fn assert_bucket_encrypted_and_private(s3: &aws_sdk_s3::Client, bucket: &str) {
    let enc = s3.get_bucket_encryption().bucket(bucket).send().await.unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().as_str(), "AES256");
    let block = s3.get_public_access_block().bucket(bucket).send().await.unwrap();
    let block = block.public_access_block_configuration().unwrap();
    let flags = [
        block.block_public_acls(),
        block.ignore_public_acls(),
        block.block_public_policy(),
        block.restrict_public_buckets(),
    ];
    assert_eq!(flags, [Some(true); 4], "{bucket}: public access not fully blocked");
}

/// The state store of `stack` in the S3 backend `bucket` (key prefix `prefix`)
/// on the emulator, with the key the tests' `infra` uses.
pub fn s3_store(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str, stack: &str) -> infra::state::Store {
    // The emulator's default account, which its credentials act in.
    let at = infra::state::s3::Location::new(bucket, prefix, stack, None).owned_by(Some(ACCOUNT));
    store(Path::new("/nonexistent"), stack).with_s3(at, client.clone())
}

/// Runs the built `infra` binary like [`run_infra`], but with AWS_ENDPOINT_URL=`endpoint`
/// (a [`FaultProxy`] in front of an emulator; it must be on 127.0.0.1).
pub fn run_infra_via(endpoint: &str, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut command = infra_command(endpoint, dir, args);
    let output =
        command.output().unwrap_or_else(|error| panic!("cannot run infra {args:?} in {}: {error}", dir.display()));
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const FAULTPROXY_PORT_LINE_PREFIX: &str = "INFRA_FAULTPROXY_PORT=";

/// A fault-injecting proxy (tests/emulator/faultproxy.py) in front of an emulator: it
/// answers a share of the requests with throttling errors or 500/503s, or drops the
/// connection, before they reach the emulator; the rest it forwards. It exits when
/// dropped, and also when the test process dies (it watches its stdin, like the emulator).
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`: point `infra` here (see [`run_infra_via`]).
    pub endpoint: String,
    child: Child,
    /// The proxy's stderr: one line per fault, and a summary on exit.
    stderr_log: tempfile::NamedTempFile,
}

impl FaultProxy {
    /// Starts the proxy on a free port in front of `emu`, faulting `fault_rate` of the
    /// requests (0..1), its decisions drawn from `seed`.
    pub fn start(emu: &Emulator, fault_rate: f64, seed: u64) -> FaultProxy {
        let (rate, seed) = (fault_rate.to_string(), seed.to_string());
        let args = ["--port", "0", "--upstream", &emu.endpoint, "--fault-rate", &rate, "--seed", &seed];
        let (child, stderr_log, port) =
            start_server("the fault proxy", "tests/emulator/faultproxy.py", &args, FAULTPROXY_PORT_LINE_PREFIX);
        FaultProxy { endpoint: format!("http://127.0.0.1:{port}"), child, stderr_log }
    }

    /// Starts the proxy on a free port in front of `emu`, adding `ms` milliseconds
    /// to every request and faulting none: AWS as seen from afar.
    pub fn with_latency(emu: &Emulator, ms: u64) -> FaultProxy {
        let ms = ms.to_string();
        let args = ["--port", "0", "--upstream", &emu.endpoint, "--fault-rate", "0", "--latency-ms", &ms];
        let (child, stderr_log, port) =
            start_server("the latency proxy", "tests/emulator/faultproxy.py", &args, FAULTPROXY_PORT_LINE_PREFIX);
        FaultProxy { endpoint: format!("http://127.0.0.1:{port}"), child, stderr_log }
    }

    /// Starts the proxy on a free port in front of `emu`, throttling as EC2 does:
    /// each API has a bucket of `size` tokens refilled at `per_second`, and a
    /// request that finds its bucket empty gets a throttling error.
    pub fn with_token_buckets(emu: &Emulator, size: u32, per_second: u32) -> FaultProxy {
        let (size, rate) = (size.to_string(), per_second.to_string());
        let args = [
            "--port",
            "0",
            "--upstream",
            &emu.endpoint,
            "--fault-rate",
            "0",
            "--bucket-size",
            &size,
            "--refill-per-second",
            &rate,
        ];
        let (child, stderr_log, port) =
            start_server("the throttling proxy", "tests/emulator/faultproxy.py", &args, FAULTPROXY_PORT_LINE_PREFIX);
        FaultProxy { endpoint: format!("http://127.0.0.1:{port}"), child, stderr_log }
    }

    /// Starts the proxy on a free port in front of `emu`, answering the first
    /// `count` requests of each `operation` with AWS's error `code` and
    /// `message`, and forwarding everything else.
    pub fn failing_first(emu: &Emulator, answers: &[(&str, usize, &str, &str)]) -> FaultProxy {
        let mut args: Vec<String> =
            ["--port", "0", "--upstream", &emu.endpoint, "--fault-rate", "0"].iter().map(|a| a.to_string()).collect();
        for (operation, count, code, message) in answers {
            args.push("--fail-first".into());
            args.push(format!("{operation}={count}:{code}:{message}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (child, stderr_log, port) =
            start_server("the scripted proxy", "tests/emulator/faultproxy.py", &args, FAULTPROXY_PORT_LINE_PREFIX);
        FaultProxy { endpoint: format!("http://127.0.0.1:{port}"), child, stderr_log }
    }

    /// Starts the proxy on a free port in front of `emu`, forwarding the first
    /// request of each operation only the seconds given after it arrived,
    /// whether or not its client is still there, and everything else at once.
    pub fn holding(emu: &Emulator, holds: &[(&str, f64)]) -> FaultProxy {
        let mut args: Vec<String> =
            ["--port", "0", "--upstream", &emu.endpoint, "--fault-rate", "0"].iter().map(|a| a.to_string()).collect();
        for (operation, seconds) in holds {
            args.push("--hold".into());
            args.push(format!("{operation}={seconds}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (child, stderr_log, port) =
            start_server("the holding proxy", "tests/emulator/faultproxy.py", &args, FAULTPROXY_PORT_LINE_PREFIX);
        FaultProxy { endpoint: format!("http://127.0.0.1:{port}"), child, stderr_log }
    }

    /// Everything the proxy wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_log.path()).unwrap_or_default()
    }

    /// The faults injected so far, by kind (`throttle`, `server_error`, `drop`), counted
    /// from the proxy's log.
    pub fn faults(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for line in self.stderr().lines() {
            if let Some(rest) = line.strip_prefix("infra-faultproxy: fault ") {
                let kind = rest.split_whitespace().next().unwrap_or_default();
                *counts.entry(kind.to_owned()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Stops the proxy (closes its stdin and waits for it) and returns its summary line:
    /// `summary requests=N forwarded=N faults=N throttle=N server_error=N drop=N ...`.
    pub fn stop(mut self) -> String {
        drop(self.child.stdin.take());
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let stderr = self.stderr();
        stderr
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("infra-faultproxy: summary "))
            .map(|summary| format!("summary {summary}"))
            .unwrap_or_else(|| panic!("the fault proxy printed no summary on exit:\n{stderr}"))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stack the provider tests act for.
pub const STACK: &str = "test";

/// A context for calling a provider directly, as the executor would.
pub fn ctx(name: &str) -> infra::provider::Ctx {
    infra::provider::Ctx {
        stack: STACK.to_string(),
        name: name.to_string(),
        client_token: uuid::Uuid::new_v4().to_string(),
        ..infra::provider::Ctx::default()
    }
}

/// The tags the planner would pass: the ownership tags and a stack tag.
pub fn tags(name: &str) -> infra::model::Value {
    infra::model::map([
        (infra::model::TAG_STACK, STACK.into()),
        (infra::model::TAG_NAME, name.into()),
        ("project", "seed".into()),
    ])
}

/// A property map from pairs.
pub fn props(pairs: Vec<(&str, infra::model::Value)>) -> infra::model::Props {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Starts one of the Python servers in tests/emulator/ from the venv, with its
/// stderr in a temporary file, and waits (60 s at most) for the line
/// `<port_prefix><port>` on its stdout. Its stdin is kept open and never
/// written: when this process goes away, the server sees end-of-file and exits.
/// Panics with the server's stderr when it does not start.
fn start_server(
    what: &str,
    script: &str,
    args: &[&str],
    port_prefix: &'static str,
) -> (Child, tempfile::NamedTempFile, u16) {
    ensure_venv();
    let root = repo_root();
    let python = venv_python();
    let script = root.join(script);
    let stderr_log = tempfile::Builder::new()
        .prefix("infra-server-")
        .suffix(".log")
        .tempfile()
        .expect("create a temporary file for a server's stderr");
    let stderr_file = stderr_log.reopen().expect("open the server's stderr log for writing");
    let mut command = Command::new(&python);
    command
        .arg("-u")
        .arg(&script)
        .args(args)
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr_file));
    remove_aws_env(&mut command);
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {what} ({} {}): {error}", python.display(), script.display()));

    // Read stdout on a thread so that the wait can time out.
    let stdout = child.stdout.take().expect("the server's stdout is piped");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = line.trim().strip_prefix(port_prefix) {
                let _ = sender.send(Ok(port.to_owned()));
                return;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = sender.send(Err(seen));
    });

    let failure = match receiver.recv_timeout(START_TIMEOUT) {
        Ok(Ok(port)) => match port.parse::<u16>() {
            Ok(port) if port != 0 => return (child, stderr_log, port),
            _ => format!("it printed an invalid port line: {port_prefix}{port}"),
        },
        Ok(Err(stdout)) => format!(
            "it closed its stdout without printing {port_prefix}<port> (exit status: {}); its stdout was:\n{stdout}",
            exit_status_when_exiting(&mut child)
        ),
        Err(_) => format!("it printed no {port_prefix}<port> line within {}s", START_TIMEOUT.as_secs()),
    };
    let _ = child.kill();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(stderr_log.path()).unwrap_or_default();
    panic!(
        "{what} ({} {}) did not start: {failure}\n--- its stderr ---\n{stderr}--- end of its stderr ---",
        python.display(),
        script.display()
    );
}

/// Waits until an Elastic Beanstalk environment is Ready again (an update made
/// through the SDK takes the emulator a few polls).
pub async fn wait_environment_ready(eb: &aws_sdk_elasticbeanstalk::Client, env_id: &str) {
    for _ in 0..50 {
        let envs = eb.describe_environments().environment_ids(env_id).send().await.unwrap();
        if envs.environments()[0].status().map(|s| s.as_str()) == Some("Ready") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{env_id} never became Ready");
}
