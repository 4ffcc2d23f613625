//! A deployment of the bundle as Elastic Beanstalk's Docker platform runs one, in the
//! order AWS documents for an instance
//! (https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/platforms-linux-extend.workflow.html),
//! with real components:
//!
//! 1. the source bundle `infra` uploads (the `elasticbeanstalk.application_version` kind's
//!    zip of deploy/dev) unpacked into a fresh staging directory;
//! 2. the prebuild hooks, run as the platform runs hooks
//!    (https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/platforms-linux-extend.hooks.html):
//!    every executable file of the stage's directory, in the lexicographical order of its
//!    name, from the staging directory, with the environment's secrets (the dev stack's
//!    `aws:elasticbeanstalk:application:environmentsecrets` settings, REDIS_PASSWORD) in
//!    their environment, where Elastic Beanstalk makes them available to platform hooks
//!    (https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/AWSHowTo.secrets.env-vars.html);
//! 3. the configure step: `.env` written from the environment's properties (the dev
//!    stack's `aws:elasticbeanstalk:application:environment` settings) and its secrets,
//!    which Elastic Beanstalk assigns "to environment variables for your application to
//!    use" (the page above; compose substitutes ELASTIC_PASSWORD from them), then the real
//!    Docker Compose reads the compose file (`config`, and `config --images`: what the
//!    platform's pull fetches), which must succeed;
//! 4. the predeploy hooks;
//! 5. the start: each Redis service run as its container runs (the command and volumes
//!    `compose config` resolved, host networking) by the real redis-server, in a private
//!    network namespace that carries the instance's private address;
//! 6. the postdeploy hooks, in that network.
//!
//! After the first deployment, each Redis service's compose healthcheck runs as Docker runs
//! it (`/bin/sh -c`, in the service's container, on the host's network), against its node.
//!
//! Three deployments on one data volume: a first one; a second, configuration-only one
//! (a new staging directory, `.platform/confighooks`); and one on a replaced instance
//! (another instance and address, the same volume). The keys written after the first are
//! read after each.
//!
//! The one translation: the compose file names the data volume's mount point `/data`; here
//! the volume (a loop device) is mounted where the data-volume hook was told (DATA_DIR).

use super::*;

/// The password the environment property ELASTIC_PASSWORD carries here.
const ELASTIC_PASSWORD: &str = "platform-order-test";
/// The nodes' client ports, from redis-N.conf.
const REDIS_PORTS: [u16; 3] = [6379, 6380, 6381];
/// The namespace of the environment's properties, which the platform writes to `.env`.
const PROPERTIES: &str = "aws:elasticbeanstalk:application:environment";
/// The namespace of the environment's secrets (ARNs of SSM parameters or Secrets Manager
/// secrets), whose values Elastic Beanstalk fetches and gives platform hooks as
/// environment variables.
const SECRETS: &str = "aws:elasticbeanstalk:application:environmentsecrets";

/// One instance of the environment: its id, its private address, its metadata and network.
struct Instance {
    id: String,
    imds: ImdsStub,
    network: Network,
}

impl Instance {
    fn launch(ec2: &Ec2, ip: &str) -> Instance {
        let id = ec2.run_environment_instance(ZONE, ENVIRONMENT);
        Instance { imds: ImdsStub::for_instance(&id, ip, ZONE), network: Network::with_address(ip), id }
    }
}

/// The Redis containers of one deployment.
struct Started {
    nodes: Vec<(Child, tempfile::TempDir)>,
}

impl Started {
    /// Stops every node as `docker compose stop` does (SIGTERM: Redis saves and exits).
    fn stop(mut self, instance: &Instance) {
        for port in REDIS_PORTS {
            let _ = run({
                let mut cli = instance.network.enter(tool("redis-cli"));
                cli.args(["-h", &instance.network.ip, "-p", &port.to_string(), "shutdown"]);
                cli.env("REDISCLI_AUTH", REDIS_PASSWORD);
                cli
            });
        }
        for (child, _) in &mut self.nodes {
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "a Redis node did not stop");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        for (child, _) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What one deployment leaves: its staging directory, the hooks' logs, and the
/// configuration compose resolved.
struct Deployment {
    staging: tempfile::TempDir,
    log: String,
    config: serde_json::Value,
}

/// The bundle exactly as the `elasticbeanstalk.application_version` kind zips and uploads
/// it, unpacked into a fresh staging directory as the platform's first step does.
fn unpacked_bundle() -> tempfile::TempDir {
    let zipped = infra::bundle::zip_dir(&bundle()).expect("zip deploy/dev");
    let staging = tempfile::Builder::new().prefix("bundle-staging-").tempdir().unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped.bytes)).unwrap();
    archive.extract(staging.path()).unwrap();
    staging
}

/// Settings by name, in order: (name, value).
type Settings = Vec<(String, String)>;

/// The environment's settings as an instance gets them, from the dev stack's `app_env`
/// option settings: its properties and its secrets (whose values the platform fetches), by
/// name. References resolve as
/// `infra` resolves them here (the data volume's id, the stack's [config], the secret's
/// value), and a secret's ARN to the value Elastic Beanstalk would fetch: these tests'.
fn environment_settings(volume: &str) -> (Settings, Settings) {
    let text = fs::read_to_string(repo().join("stacks/dev.toml")).unwrap();
    let stack: toml::Table = toml::from_str(&text).unwrap();
    let settings = stack["resources"]["app_env"]["option_settings"].as_array().unwrap();
    let all: Vec<(String, String, String)> = settings
        .iter()
        .map(|s| {
            let field = |key: &str| s[key].as_str().unwrap().to_owned();
            (field("namespace"), field("name"), field("value"))
        })
        .collect();
    let (mut properties, mut secrets) = (Vec::new(), Vec::new());
    for (namespace, name, value) in all {
        if namespace == PROPERTIES {
            let value = match value.as_str() {
                "${data.id}" => volume.to_owned(),
                other => match other.strip_prefix("${config.").and_then(|key| key.strip_suffix('}')) {
                    Some(key) => {
                        stack["config"][key].as_str().unwrap_or_else(|| panic!("{name}: [config] {key}")).into()
                    }
                    None if other.contains("${") => panic!("{name} = {other}: a reference this test does not resolve"),
                    None => other.to_owned(),
                },
            };
            properties.push((name, value));
        } else if namespace == SECRETS {
            let value = match name.as_str() {
                "REDIS_PASSWORD" => REDIS_PASSWORD,
                "ELASTIC_PASSWORD" => ELASTIC_PASSWORD,
                other => panic!("the secret {other} ({value}): a secret this test has no value for"),
            };
            secrets.push((name, value.to_owned()));
        }
    }
    (properties, secrets)
}

/// The environment's properties and secrets as the platform writes them to `.env`.
fn environment_properties(volume: &str) -> String {
    let (properties, secrets) = environment_settings(volume);
    let env: String = properties.iter().chain(&secrets).map(|(name, value)| format!("{name}={value}\n")).collect();
    assert!(env.contains("ELASTIC_PASSWORD=") && env.contains("REDIS_VERSION="), "the environment's properties: {env}");
    env
}

/// Runs the hooks of `stage` (`kind` is hooks or confighooks) as the platform does, in
/// `network` when given; returns what they wrote.
fn run_stage(staging: &Path, kind: &str, stage: &str, env: &[(String, String)], network: Option<&Network>) -> String {
    let dir = staging.join(".platform").join(kind).join(stage);
    let mut hooks: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    hooks.sort_by_key(|hook| hook.file_name().unwrap().to_owned());
    let mut log = String::new();
    for hook in hooks {
        let mode = fs::metadata(&hook).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{}: the platform runs only executable hooks (mode {mode:o})", hook.display());
        let mut command = match network {
            Some(network) => network.enter(&hook),
            None => command(&hook),
        };
        command.envs(env.iter().map(|(k, v)| (k, v))).current_dir(staging);
        let done = run(command);
        assert!(done.ok(), "{kind}/{stage}/{}: {done}", hook.file_name().unwrap().to_string_lossy());
        log.push_str(&done.stderr);
    }
    log
}

/// The configure step: the platform writes `.env`, then Docker Compose reads the compose
/// file. Returns the configuration compose resolved.
fn configure(staging: &Path, volume: &str) -> serde_json::Value {
    let env_file = staging.join(".env");
    assert!(!env_file.exists(), "a .env exists before the platform writes its own: it would write none");
    fs::write(&env_file, environment_properties(volume)).unwrap();
    let compose = |args: &[&str]| {
        let mut command = command(tool("docker-compose"));
        command.args(["--project-name", "current"]).args(args).current_dir(staging);
        command.env("DOCKER_CONFIG", staging.join(".docker"));
        run(command)
    };
    let config = compose(&["config"]);
    assert!(config.ok(), "the platform's configure step: docker compose cannot read the compose file: {config}");
    let images = compose(&["config", "--images"]);
    assert!(images.ok(), "{images}");
    for image in images.stdout.lines() {
        let (_, tag) = image.rsplit_once(':').unwrap_or_else(|| panic!("{image} has no tag"));
        assert!(image.starts_with("public.ecr.aws/docker/library/"), "{image}: not from ECR Public's mirror");
        assert!(tag.chars().next().is_some_and(|c| c.is_ascii_digit()), "{image}: not pinned to a version");
    }
    let resolved = staging.join("resolved.yml");
    fs::write(&resolved, &config.stdout).unwrap();
    yaml(&resolved)
}

/// The volumes of a service of the resolved configuration, the data volume's mount point
/// `/data` being `data_dir` here.
fn service_volumes(service: &serde_json::Value, data_dir: &Path) -> Vec<Volume> {
    service["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let source = v["source"].as_str().unwrap();
            let source = match source.strip_prefix("/data/") {
                Some(rest) => data_dir.join(rest),
                None => PathBuf::from(source),
            };
            let target = v["target"].as_str().unwrap().to_owned();
            Volume { source, target, read_only: v["read_only"].as_bool().unwrap_or(false) }
        })
        .collect()
}

/// The start: every Redis service of the resolved configuration run as its container runs,
/// in the instance's network (`network_mode: host`).
fn start_redis(config: &serde_json::Value, data_dir: &Path, instance: &Instance, logs: &Path) -> Started {
    let mut nodes = Vec::new();
    for n in 1..=3 {
        let service = &config["services"][format!("redis-{n}")];
        assert_eq!(service["network_mode"], "host", "redis-{n}");
        let args: Vec<String> =
            service["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
        let volumes = service_volumes(service, data_dir);
        let root = tempfile::Builder::new().prefix("bundle-container-").tempdir().unwrap();
        let log = fs::OpenOptions::new().create(true).append(true).open(logs.join(format!("redis-{n}.log"))).unwrap();
        // The redis image's working directory is /data.
        let mut server = container(root.path(), &volumes, "/data", Some(&instance.network), &args);
        server.stdout(Stdio::from(log.try_clone().unwrap())).stderr(Stdio::from(log));
        nodes.push((server.spawn().expect("start redis-server"), root));
    }
    let started = Started { nodes };
    for port in REDIS_PORTS {
        wait_for(&format!("redis on {}:{port}", instance.network.ip), Duration::from_secs(30), || {
            let mut ping = instance.network.enter(tool("redis-cli"));
            ping.args(["-h", &instance.network.ip, "-p", &port.to_string(), "ping"]);
            ping.env("REDISCLI_AUTH", REDIS_PASSWORD);
            (run(ping).stdout.trim() == "PONG").then_some(())
        });
    }
    started
}

/// One whole deployment of the bundle on `instance`, with the hooks of `kind`.
fn deploy(kind: &str, host: &Host, ec2: &Ec2, instance: &Instance, volume: &str, logs: &Path) -> (Deployment, Started) {
    let staging = unpacked_bundle();
    let mut env = host.hook_env(ec2, &instance.imds, volume);
    env.extend(environment_settings(volume).1);
    env.extend(
        [
            ("REDIS_CLI", tool("redis-cli").to_string_lossy().into_owned()),
            ("POLL_INTERVAL", "0.5".into()),
            ("PING_TIMEOUT", "30".into()),
            ("CLUSTER_TIMEOUT", "60".into()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let mut log = run_stage(staging.path(), kind, "prebuild", &env, None);
    let config = configure(staging.path(), volume);
    log.push_str(&run_stage(staging.path(), kind, "predeploy", &env, None));
    let started = start_redis(&config, &host.data(), instance, logs);
    log.push_str(&run_stage(staging.path(), kind, "postdeploy", &env, Some(&instance.network)));
    (Deployment { staging, log, config }, started)
}

/// Runs the compose healthcheck of `service` as Docker runs a CMD-SHELL test: `/bin/sh -c`
/// in the service's container (its volumes, here with `data_dir` as /data), on the
/// instance's network.
fn healthcheck(config: &serde_json::Value, service: &str, data_dir: &Path, instance: &Instance) -> Run {
    let service = &config["services"][service];
    let test = service["healthcheck"]["test"].as_array().unwrap();
    assert_eq!(test[0], "CMD-SHELL", "{service}");
    // `config` prints `$$` still escaped (its output is a compose file too); Compose gives
    // Docker a single `$`, for the container's shell.
    let script = test[1].as_str().unwrap().replace("$$", "$");
    let root = tempfile::Builder::new().prefix("bundle-container-").tempdir().unwrap();
    let args = ["/bin/sh".to_owned(), "-c".to_owned(), script];
    run(container(root.path(), &service_volumes(service, data_dir), "/data", Some(&instance.network), &args))
}

/// Every node reports a healthy cluster of three, all on the instance's address; returns
/// the node ids.
fn assert_healthy_on(instance: &Instance) -> Vec<String> {
    let network = &instance.network;
    let mut ids = Vec::new();
    for port in REDIS_PORTS {
        let info = network.redis_cli(port, &["cluster", "info"]);
        for wanted in ["cluster_state:ok", "cluster_known_nodes:3", "cluster_slots_assigned:16384"] {
            assert!(info.lines().any(|l| l == wanted), "{}:{port}: {info}", network.ip);
        }
        let nodes = network.redis_cli(port, &["cluster", "nodes"]);
        for line in nodes.lines() {
            assert!(line.split_whitespace().nth(1).unwrap().starts_with(&format!("{}:", network.ip)), "{line}");
        }
        ids.push(network.redis_cli(port, &["cluster", "myid"]));
    }
    ids
}

#[test]
fn the_bundle_deploys_in_elastic_beanstalks_order_again_and_on_a_replaced_instance_keeping_its_keys() {
    let ec2 = Ec2::start();
    let volume = ec2.create_volume(ZONE);
    let host = Host::with_disk(&volume);
    let logs = tempfile::Builder::new().prefix("bundle-platform-logs-").tempdir().unwrap();

    // The first deployment, on a new instance and an empty volume.
    let first = Instance::launch(&ec2, "10.0.1.23");
    let (deployment, started) = deploy("hooks", &host, &ec2, &first, &volume, logs.path());
    assert!(deployment.log.contains("every node is fresh: creating the cluster"), "{}", deployment.log);
    let ids = assert_healthy_on(&first);

    // The nodes' password: on the data volume for the redis user alone, in nothing compose
    // resolved (no service's environment or command), and never in a hook's output. (The
    // platform's own .env holds every environment variable, secrets included, as this test
    // models Elastic Beanstalk writing it for compose.)
    for n in 1..=3 {
        for file in ["auth.conf", "password"] {
            let meta = fs::metadata(host.data().join(format!("redis-{n}/{file}"))).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid(), meta.permissions().mode() & 0o777),
                (999, 999, 0o600),
                "redis-{n}/{file}"
            );
        }
    }
    let resolved = fs::read_to_string(deployment.staging.path().join("resolved.yml")).unwrap();
    for text in [&resolved, &deployment.log] {
        assert!(!text.contains(REDIS_PASSWORD), "the Redis password leaked: {text}");
    }
    // Each node's healthcheck really checks it, authenticated: it passes against the node,
    // and fails with a password file that holds another password.
    let wrong = tempfile::tempdir().unwrap();
    for n in 1..=3 {
        let service = format!("redis-{n}");
        let passes = healthcheck(&deployment.config, &service, &host.data(), &first);
        assert!(passes.ok(), "{service}'s healthcheck: {passes}");
        fs::create_dir_all(wrong.path().join(&service)).unwrap();
        fs::write(wrong.path().join(format!("{service}/password")), "not-the-password").unwrap();
        let fails = healthcheck(&deployment.config, &service, wrong.path(), &first);
        assert!(!fails.ok(), "{service}'s healthcheck passed with a wrong password: {fails}");
    }
    // A client without the password is refused.
    let mut anonymous = first.network.enter(tool("redis-cli"));
    anonymous.args(["-h", &first.network.ip, "-p", "6379", "get", "key:0"]);
    let anonymous = run(anonymous);
    assert!(anonymous.stdout.starts_with("NOAUTH Authentication required"), "{anonymous}");

    for i in 0..KEYS {
        let set = first.network.redis_cli(6379, &["-c", "set", &format!("key:{i}"), &format!("value-{i}")]);
        assert_eq!(set, "OK");
    }
    let read_keys = |instance: &Instance| {
        for i in 0..KEYS {
            let got = instance.network.redis_cli(6380, &["-c", "get", &format!("key:{i}")]);
            assert_eq!(got, format!("value-{i}"), "key:{i} on {}", instance.network.ip);
        }
    };
    // The platform wrote .env; nothing else in staging is new but the resolved config.
    assert!(deployment.staging.path().join(".env").is_file());

    // A second, configuration-only deployment: a fresh staging directory, the confighooks,
    // the same instance and volume. The containers are replaced by the start step.
    started.stop(&first);
    let (second, started) = deploy("confighooks", &host, &ec2, &first, &volume, logs.path());
    assert!(second.log.contains("already announces 10.0.1.23"), "{}", second.log);
    assert!(second.log.contains("the cluster exists: checking it"), "{}", second.log);
    assert_eq!(assert_healthy_on(&first), ids, "the same nodes");
    read_keys(&first);

    // The instance is replaced: terminated (EC2 detaches its volumes), its mount gone with
    // it; a new instance with another address gets the same volume.
    started.stop(&first);
    let mut umount = command("umount");
    umount.arg(host.data());
    run_ok(umount);
    ec2.terminate_instance(&first.id);
    if ec2.volume(&volume).starts_with("in-use") {
        ec2.aws(&["ec2", "detach-volume", "--volume-id", &volume]);
    }
    drop(first);
    let replaced = Instance::launch(&ec2, "10.0.2.45");
    let (third, _started) = deploy("hooks", &host, &ec2, &replaced, &volume, logs.path());
    assert!(third.log.contains("node addresses rewritten to 10.0.2.45"), "{}", third.log);
    assert!(third.log.contains("the cluster exists: checking it"), "{}", third.log);
    assert_eq!(assert_healthy_on(&replaced), ids, "the same nodes, on the new address");
    read_keys(&replaced);
    assert_eq!(ec2.volume(&volume), format!("in-use\t{}\t/dev/sdf\tattached", replaced.id));
}
