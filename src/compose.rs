//! What a bundle's `docker-compose.yml` serves on its host's network: the
//! ports its services publish, and, for Redis services on the host's own
//! network (`network_mode: host`, which publish nothing; a Redis image), the
//! client and cluster-bus ports of the configuration file they mount. What
//! else a host-network service listens on is not known here, nor a port
//! written with a variable (`"${PORT}:80"`): those are left out. Services in a
//! profile are not started by default, so they serve nothing. The policy checks compare
//! these with the security groups of the environment that runs the bundle
//! (`check::port_findings`). Reads files of the project; knows no AWS.
//!
//! Ports are read as the compose specification writes them: `"9200:9200"`,
//! `"127.0.0.1:8080:80"`, `"9090-9091:8080-8081/udp"`, a bare number, or the
//! long form `{ target, published, protocol, host_ip }`. A port published only
//! on a loopback address, or with no published port (an ephemeral one), is not
//! served to the network. Merge keys (`<<: *anchor`) are applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::model::{Kind, Stack, Value};

/// The file Elastic Beanstalk's Docker platform runs (it runs no other name).
pub const COMPOSE_FILE: &str = "docker-compose.yml";

/// A TCP or UDP port a service serves on its host's network interfaces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServedPort {
    pub port: u16,
    pub protocol: Protocol,
    /// The compose service, and for a Redis node what the port is for.
    pub service: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// What one environment's bundle serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundlePorts {
    /// The bundle's directory, as the stack names it (`deploy/dev`).
    pub dir: String,
    pub served: Vec<ServedPort>,
}

/// The ports served by the bundle of each `elasticbeanstalk.environment` whose
/// `version_label` refers to an `elasticbeanstalk.application_version` with a
/// `source_dir` (relative to `base`) holding a `docker-compose.yml`, by the
/// environment's name.
pub fn environment_bundles(stack: &Stack, base: &Path) -> Result<BTreeMap<String, BundlePorts>, ComposeError> {
    let mut out = BTreeMap::new();
    for (name, env) in stack.resources.iter().filter(|(_, r)| r.kind == Kind::EbEnvironment) {
        let Some(Value::Ref(version)) = env.props.get("version_label") else { continue };
        let Some(version) = stack.resources.get(&version.resource).filter(|r| r.kind == Kind::EbVersion) else {
            continue;
        };
        let Some(dir) = version.props.get("source_dir").and_then(Value::as_str) else { continue };
        if let Some(served) = served_ports(&base.join(dir))? {
            out.insert(name.clone(), BundlePorts { dir: dir.to_string(), served });
        }
    }
    Ok(out)
}

/// A bundle whose ports cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The ports the bundle in `dir` serves, sorted; `None` when it has no
/// `docker-compose.yml`.
pub fn served_ports(dir: &Path) -> Result<Option<Vec<ServedPort>>, ComposeError> {
    let path = dir.join(COMPOSE_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = read(&path)?;
    let invalid = |message: String| ComposeError::Invalid { path: path.clone(), message };
    let docs = YamlLoader::load_from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let Some(Yaml::Hash(services)) = docs.first().map(|d| d["services"].clone()) else {
        return Err(invalid("no `services` mapping".into()));
    };
    let mut out = BTreeSet::new();
    for (name, service) in &services {
        let name = name.as_str().ok_or_else(|| invalid("a service name is not a string".into()))?;
        let service = merged(service);
        if service["profiles"].as_vec().is_some_and(|p| !p.is_empty()) {
            continue;
        }
        let redis =
            service["image"].as_str().is_some_and(|i| i.rsplit('/').next().is_some_and(|n| n.starts_with("redis")));
        if service["network_mode"].as_str() == Some("host") && redis {
            for conf in mounted_files(&service).filter(|f| f.ends_with(".conf")) {
                let conf_path = dir.join(conf.trim_start_matches("./"));
                if conf_path.is_file() {
                    out.extend(redis_ports(&read(&conf_path)?, name));
                }
            }
        }
        if let Some(ports) = service["ports"].as_vec() {
            for entry in ports {
                let published = published(entry).map_err(|e| invalid(format!("services.{name}.ports: {e}")))?;
                out.extend(published.into_iter().map(|(port, protocol)| ServedPort {
                    port,
                    protocol,
                    service: name.to_string(),
                }));
            }
        }
    }
    Ok(Some(out.into_iter().collect()))
}

fn read(path: &Path) -> Result<String, ComposeError> {
    std::fs::read_to_string(path).map_err(|source| ComposeError::Io { path: path.to_path_buf(), source })
}

/// A mapping with its merge keys (`<<: *x` or `<<: [*x, *y]`) applied: keys of
/// its own win over merged ones, earlier merged mappings over later ones.
fn merged(node: &Yaml) -> Yaml {
    let Yaml::Hash(map) = node else { return node.clone() };
    let merge_key = Yaml::String("<<".into());
    let mut out = map.clone();
    out.remove(&merge_key);
    let sources = match map.get(&merge_key) {
        Some(Yaml::Array(list)) => list.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    for source in sources {
        if let Yaml::Hash(source) = merged(&source) {
            for (k, v) in source {
                out.entry(k).or_insert(v);
            }
        }
    }
    Yaml::Hash(out)
}

/// The host paths of a service's bind mounts (`./x:/y[:ro]` or `{ source }`).
fn mounted_files(service: &Yaml) -> impl Iterator<Item = String> + '_ {
    service["volumes"].as_vec().into_iter().flatten().filter_map(|v| match v {
        Yaml::String(s) => s.split(':').next().map(str::to_string),
        Yaml::Hash(_) => v["source"].as_str().map(str::to_string),
        _ => None,
    })
}

/// A Redis node's ports from its configuration: `port`, and with
/// `cluster-enabled yes` the bus port it listens on: `cluster-port`, or 10000
/// above `port`, as Redis computes it (the announced one is what peers are
/// told, which behind a NAT differs).
fn redis_ports(conf: &str, service: &str) -> Vec<ServedPort> {
    let mut port = 6379u16;
    let (mut cluster, mut bus) = (false, None);
    for line in conf.lines() {
        let mut words = line.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else { continue };
        match key.to_ascii_lowercase().as_str() {
            "port" => port = value.parse().unwrap_or(port),
            "cluster-enabled" => cluster = value.eq_ignore_ascii_case("yes"),
            "cluster-port" => bus = value.parse::<u16>().ok().filter(|p| *p != 0),
            _ => {}
        }
    }
    let mut out = vec![ServedPort { port, protocol: Protocol::Tcp, service: format!("{service} (redis)") }];
    if cluster && let Some(bus) = bus.or_else(|| port.checked_add(10000)) {
        out.push(ServedPort { port: bus, protocol: Protocol::Tcp, service: format!("{service} (redis cluster bus)") });
    }
    out
}

/// The host ports one `ports:` entry publishes to the network.
fn published(entry: &Yaml) -> Result<Vec<(u16, Protocol)>, String> {
    let (host_ip, published, protocol) = match entry {
        Yaml::Integer(_) => return Ok(Vec::new()),
        Yaml::String(s) => {
            let (spec, protocol) = s.rsplit_once('/').unwrap_or((s, "tcp"));
            // [host_ip:][published:]target, where host_ip may be [v6].
            let (host_ip, rest) = match spec.strip_prefix('[') {
                Some(v6) => {
                    let (ip, rest) = v6.split_once("]:").ok_or_else(|| format!("invalid port {s:?}"))?;
                    (Some(ip.to_string()), rest)
                }
                None => match spec.matches(':').count() {
                    2 => spec.split_once(':').map(|(ip, rest)| (Some(ip.to_string()), rest)).unwrap_or((None, spec)),
                    _ => (None, spec),
                },
            };
            let published = rest.split_once(':').map(|(p, _)| p.to_string());
            (host_ip, published, protocol.to_string())
        }
        Yaml::Hash(_) => {
            let published = match &entry["published"] {
                Yaml::Integer(p) => Some(p.to_string()),
                Yaml::String(p) => Some(p.clone()),
                _ => None,
            };
            let protocol = entry["protocol"].as_str().unwrap_or("tcp").to_string();
            (entry["host_ip"].as_str().map(str::to_string), published, protocol)
        }
        _ => return Err(format!("expected a port, found {entry:?}")),
    };
    let protocol = match protocol.as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => return Err(format!("unknown protocol {other:?}")),
    };
    let loopback =
        host_ip.as_deref().and_then(|ip| ip.parse::<std::net::IpAddr>().ok()).is_some_and(|ip| ip.is_loopback());
    // A variable (`${PORT}`) is interpolated from `.env` on the host: not known here.
    let Some(published) = published.filter(|p| !p.is_empty() && !loopback && !p.contains('$')) else {
        return Ok(Vec::new());
    };
    let port = |p: &str| p.trim().parse::<u16>().map_err(|_| format!("invalid published port {published:?}"));
    let (from, to) = match published.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(&published)?, port(&published)?),
    };
    if from > to {
        return Err(format!("published range {published:?} is reversed"));
    }
    Ok((from..=to).map(|p| (p, protocol)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(entry: &str) -> Vec<(u16, Protocol)> {
        published(&YamlLoader::load_from_str(entry).unwrap()[0]).unwrap()
    }

    #[test]
    fn short_port_forms_publish_their_host_side() {
        assert_eq!(ports("'9200:9200'"), vec![(9200, Protocol::Tcp)]);
        assert_eq!(ports("'0.0.0.0:5601:5601'"), vec![(5601, Protocol::Tcp)]);
        assert_eq!(ports("'9090-9091:8080-8081/udp'"), vec![(9090, Protocol::Udp), (9091, Protocol::Udp)]);
        assert_eq!(ports("'[::]:8443:443'"), vec![(8443, Protocol::Tcp)]);
    }

    #[test]
    fn ports_on_loopback_or_without_a_published_side_serve_nothing() {
        assert!(ports("'127.0.0.1:8080:80'").is_empty());
        assert!(ports("'[::1]:8080:80'").is_empty());
        assert!(ports("'3000'").is_empty());
        assert!(ports("3000").is_empty());
    }

    #[test]
    fn the_long_port_form_is_read_too() {
        assert_eq!(ports("{ target: 80, published: 8080 }"), vec![(8080, Protocol::Tcp)]);
        assert_eq!(ports("{ target: 80, published: '8080', host_ip: 127.0.0.1 }"), vec![]);
    }

    #[test]
    fn a_redis_cluster_node_serves_its_port_and_bus_port() {
        let conf = "port 6380\ncluster-enabled yes\ncluster-announce-bus-port 16380\n";
        let got: Vec<u16> = redis_ports(conf, "redis-2").iter().map(|p| p.port).collect();
        assert_eq!(got, vec![6380, 16380]);
        let conf = "port 7000\ncluster-enabled yes\ncluster-port 7100\ncluster-announce-bus-port 27000\n";
        let got: Vec<u16> = redis_ports(conf, "r").iter().map(|p| p.port).collect();
        assert_eq!(got, vec![7000, 7100], "the bus port it listens on, not the one it announces");
        let got: Vec<u16> = redis_ports("port 7000\ncluster-enabled yes\n", "r").iter().map(|p| p.port).collect();
        assert_eq!(got, vec![7000, 17000], "the bus port defaults to port + 10000");
        let got: Vec<u16> = redis_ports("port 7000\n", "r").iter().map(|p| p.port).collect();
        assert_eq!(got, vec![7000], "no bus without cluster mode");
    }

    #[test]
    fn the_dev_bundle_serves_the_seeds_ports() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dev");
        let served = served_ports(&dir).unwrap().unwrap();
        let got: Vec<(u16, &str)> = served.iter().map(|p| (p.port, p.service.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (5601, "kibana"),
                (6379, "redis-1 (redis)"),
                (6380, "redis-2 (redis)"),
                (6381, "redis-3 (redis)"),
                (9200, "elasticsearch"),
                (16379, "redis-1 (redis cluster bus)"),
                (16380, "redis-2 (redis cluster bus)"),
                (16381, "redis-3 (redis cluster bus)"),
            ]
        );
    }

    #[test]
    fn a_port_written_with_a_variable_is_left_out() {
        assert!(ports("'${PORT}:80'").is_empty());
    }

    #[test]
    fn only_redis_services_on_the_host_network_are_read_from_their_conf_and_profiles_serve_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("nginx.conf"), "events {}\n").unwrap();
        std::fs::write(dir.path().join("r.conf"), "port 7000\n").unwrap();
        let compose = "services:\n  web: { image: nginx, network_mode: host, volumes: ['./nginx.conf:/etc/nginx/nginx.conf'] }\n  cache: { image: 'docker.io/library/redis:7', network_mode: host, volumes: ['./r.conf:/r.conf'] }\n  debug: { image: busybox, profiles: [debug], ports: ['8080:80'] }\n";
        std::fs::write(dir.path().join(COMPOSE_FILE), compose).unwrap();
        let served = served_ports(dir.path()).unwrap().unwrap();
        let got: Vec<(u16, &str)> = served.iter().map(|p| (p.port, p.service.as_str())).collect();
        assert_eq!(got, vec![(7000, "cache (redis)")]);
    }

    #[test]
    fn merge_keys_are_applied_and_own_keys_win() {
        let doc = "x: &x { network_mode: host, restart: always }\ns: { <<: *x, restart: 'no' }\n";
        let yaml = &YamlLoader::load_from_str(doc).unwrap()[0];
        let service = merged(&yaml["s"]);
        assert_eq!(service["network_mode"].as_str(), Some("host"));
        assert_eq!(service["restart"].as_str(), Some("no"));
    }

    #[test]
    fn a_directory_without_a_compose_file_serves_nothing_known() {
        assert!(served_ports(Path::new(env!("CARGO_MANIFEST_DIR")).join("src").as_path()).unwrap().is_none());
    }
}
