#!/usr/bin/env python3
"""`make bench`: how fast infra is, on the local emulator (never in CI).

Stacks: generated ones of 10, 100 and 1,000 resources (security groups with four
rules each, EBS volumes, a few instances); 200 EC2 resources (100 groups with four
rules, 100 volumes); 8 of mixed kinds (group, instance, volume, attachment,
bucket, two roles, build project); and the dev stack. For each it runs: plan from
nothing, apply from nothing, a no-op plan, a no-op apply, destroy; for the largest
generated stack, apply and destroy once more with --parallelism 32. For each step
it records wall time (process start included), infra's CPU time, the emulator's
CPU time over the same step (moto is one Python process: its CPU time is a floor
under the wall time), peak memory, and the AWS API calls by operation (counted by
infra's SDK interceptor, `--stats-json`). A plan, which changes neither AWS nor
state, is run three times and the run with the median wall time kept; apply and
destroy run once.

With `--latency-ms N` (`make bench LATENCY_MS=100`) every request goes through
tests/emulator/faultproxy.py, which holds it N ms before forwarding it: the round
trip to a distant AWS region. Each step then also shows its sequential round
trips: wall time divided by the latency. The dev stack's apply and destroy also
give, per kind, the calls one create and one delete make, in sequence (calls
that overlapped in time are joined with `+`).

bench/results.md keeps one section per latency; a run rewrites its own.

Usage: .venv/bin/python scripts/bench.py [--infra target/release/infra] [--sizes 10,100,1000]
                                         [--latency-ms 100]
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = [
    ("plan from nothing", ["plan"]),
    ("apply from nothing", ["apply", "--yes"]),
    ("no-op plan", ["plan"]),
    ("no-op apply", ["apply", "--yes"]),
    ("destroy", ["destroy", "--yes"]),
]
# For the largest stack, apply and destroy again with more operations at once:
# how far the emulator, not infra, is the bound.
# A plan changes nothing, so it is run this many times and the median kept: one
# sample on a shared machine varies by 15% or more.
PLAN_RUNS = 3
WIDE = 32
WIDE_STEPS = [
    (f"apply, --parallelism {WIDE}", ["apply", "--yes", "--parallelism", str(WIDE)]),
    (f"destroy, --parallelism {WIDE}", ["destroy", "--yes", "--parallelism", str(WIDE)]),
]


def generated_stack(n: int) -> str:
    """A stack of n resources: about half security groups (four rules each),
    the rest EBS volumes, and one instance per 100 resources."""
    instances = max(1, n // 100)
    groups = (n - instances) // 2
    volumes = n - instances - groups
    out = [ec2_stack(groups, volumes)]
    for i in range(instances):
        out.append(
            f'[resources.host{i}]\ntype = "ec2.instance"\ninstance_type = "t3.micro"\n'
            f'security_group_ids = ["${{sg{i}.id}}"]\n'
        )
    return "\n".join(out)


def ec2_stack(groups: int, volumes: int) -> str:
    """Security groups with four rules each and EBS volumes, nothing else."""
    out = ['[stack]\nregion = "us-east-1"\ntags = { bench = "true" }\n']
    for i in range(groups):
        out.append(
            f'[resources.sg{i}]\ntype = "ec2.security_group"\ndescription = "bench group {i}"\n'
            "ingress = [\n"
            + "".join(
                f'  {{ ports = {p}, cidrs = ["10.{i % 250}.0.0/16"], description = "port {p}" }},\n'
                for p in (22, 80, 443, 9200)
            )
            + "]\n"
        )
    for i in range(volumes):
        out.append(f'[resources.vol{i}]\ntype = "ec2.volume"\navailability_zone = "us-east-1a"\nsize = {1 + i % 20}\n')
    return "\n".join(out)


def mixed_stack() -> str:
    """Eight resources of seven kinds: the host fixture's group, instance, volume
    and attachment, with a bucket, two roles and a build project."""
    host = (ROOT / "tests/fixtures/stacks/host.toml").read_text()
    host = host.split("[outputs]")[0]
    role = (
        '[resources.{name}]\ntype = "iam.role"\n'
        'assume_role_policy = {{ Version = "2012-10-17", Statement = [\n'
        '  {{ Effect = "Allow", Principal = {{ Service = "{service}" }}, Action = "sts:AssumeRole", '
        'Condition = {{ StringEquals = {{ "aws:SourceAccount" = "123456789012" }} }} }},\n'
        "] }}\n"
    )
    return (
        host
        + '\n[resources.artifacts]\ntype = "s3.bucket"\nversioning = true\nencryption = "AES256"\n'
        "block_public_access = true\nforce_destroy = true\n\n"
        + role.format(name="build_role", service="codebuild.amazonaws.com")
        + "\n"
        + role.format(name="deploy_role", service="codepipeline.amazonaws.com")
        + '\n[resources.build]\ntype = "codebuild.project"\nservice_role = "${build_role.arn}"\n'
        'buildspec = "deploy/dev/buildspec.yml"\n'
    )


def unprotected(text: str) -> str:
    """The stack with every resource's protection lifted, so that its destroy
    can be timed."""
    return re.sub(r"(?m)^protect\s*=\s*true\s*$", "protect = false", text)


def start_server(what: str, script: str, args: list[str], port_line: str) -> tuple[subprocess.Popen, str]:
    """Starts one of tests/emulator's servers on a free port: the process and
    its endpoint (the port it prints on its first line)."""
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "-u", str(ROOT / script), "--port", "0", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith(port_line):
        raise SystemExit(f"bench: {what} did not start: {line!r}")
    return proc, f"http://127.0.0.1:{line.split('=', 1)[1]}"


class LatencyProxy:
    """tests/emulator/faultproxy.py in front of the emulator, holding every
    request `ms` milliseconds."""

    def __init__(self, upstream: str, ms: int) -> None:
        args = ["--upstream", upstream, "--fault-rate", "0", "--latency-ms", str(ms)]
        self.proc, self.endpoint = start_server(
            "the latency proxy", "tests/emulator/faultproxy.py", args, "INFRA_FAULTPROXY_PORT="
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Emulator:
    def __init__(self) -> None:
        self.proc, self.endpoint = start_server(
            "the emulator", "tests/emulator/server.py", [], "INFRA_EMULATOR_PORT="
        )
        self.warm_up()

    def warm_up(self) -> None:
        """moto loads each service's backend on its first request (seconds for
        EC2): pay that before anything is timed."""
        import boto3

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        client = lambda name: session.client(name, endpoint_url=self.endpoint)  # noqa: E731
        client("ec2").describe_vpcs()
        client("iam").list_roles()
        client("s3").list_buckets()
        client("codebuild").list_projects()
        client("codepipeline").list_pipelines()
        client("elasticbeanstalk").describe_applications()
        client("ssm").describe_parameters()

    def cpu(self) -> float:
        """The emulator process's user+system CPU seconds so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def run_case(
    infra: Path,
    emulator: Emulator,
    endpoint: str,
    name: str,
    stack_text: str,
    extra: list[Path],
    steps: list[tuple[str, list[str]]],
) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="infra-bench-"))
    try:
        (work / "stacks").mkdir()
        (work / "state").mkdir()
        (work / "stacks" / "bench.toml").write_text(stack_text)
        for path in extra:
            shutil.copytree(ROOT / path, work / path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            NO_COLOR="1",
            ELASTIC_PASSWORD="bench-only-password",
            REDIS_PASSWORD="bench-only-redis-password",
            INFRA_STATE_KEY=os.urandom(32).hex(),
        )
        rows = []
        for label, args in steps:
            # A plan changes neither AWS nor state: it is run PLAN_RUNS times,
            # and the run with the median wall time is the row.
            runs = [run_step(infra, emulator, work, env, name, label, args, stack_text)
                    for _ in range(PLAN_RUNS if args[0] == "plan" else 1)]
            rows.append(sorted(runs, key=lambda r: r["wall"])[len(runs) // 2])
            r = rows[-1]
            print(f"  {name:>14}  {label:<18} {r['wall']:8.3f}s wall {r['cpu']:6.3f}s cpu "
                  f"{r['emulator_cpu']:6.3f}s emulator cpu  {r['peak_mib']:6.1f} MiB  "
                  f"{r['reads']:5} reads {r['mutating']:5} mutating"
                  + (f" (median of {len(runs)} runs)" if len(runs) > 1 else ""), file=sys.stderr)
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_step(infra: Path, emulator: "Emulator", work: Path, env: dict, name: str, label: str, args: list[str],
             stack_text: str) -> dict:
    """Runs one step in `work` and measures it."""
    stats_file = work / "stats.json"
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    emulator_before = emulator.cpu()
    done = subprocess.run(
        [str(infra), "-C", str(work), *args, "--stack", "bench", "--stats-json", str(stats_file)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    emulator_cpu = emulator.cpu() - emulator_before
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"bench: {name}: infra {' '.join(args)} failed:\n{done.stderr}")
    stats = json.loads(stats_file.read_text())
    return {
        "case": name,
        "step": label,
        "wall": wall,
        "cpu": cpu,
        "emulator_cpu": emulator_cpu,
        "peak_mib": stats["peak_rss_kib"] / 1024,
        "reads": stats["reads"],
        "mutating": stats["mutating"],
        "calls": stats["calls"],
        "trace": stats.get("trace", []),
        "concurrency": stats.get("concurrency", {}),
        "floor": stats.get("floor", {}).get("round_trips", 0),
        "forced_calls": stats.get("floor", {}).get("forced_calls", 0),
        "path_calls": stats.get("critical_path", {}).get("calls", 0),
        "path_waits": stats.get("critical_path", {}).get("waits", 0),
        "kinds": kinds_of(stack_text),
    }


def kinds_of(stack_text: str) -> dict[str, str]:
    """Each resource's kind, by name."""
    return {name: r["type"] for name, r in tomllib.loads(stack_text).get("resources", {}).items()}


def floor_seconds(r: dict, latency_ms: int) -> tuple[float, float]:
    """The two lower bounds on a step's wall time, in seconds.

    - The chain: the floor's round trips in sequence (src/model/floor.rs, and
      each "not yet" AWS answered), each at least the latency.
    - The server: every request reaches the emulator no sooner than the latency,
      and moto answers one at a time (one Python process, one interpreter lock).
      Refresh's reads are answered no sooner than the latency plus the server's
      time for them; what the operations then send reaches it no sooner than
      one latency more, and is answered no sooner than the server's time for
      it. So the last answer comes no sooner than the latency (twice, when
      operations follow refresh) plus the server's time for the calls the run
      could not do without: the emulator's CPU over the step, in the share of
      the calls made that were forced (`--stats-json` floor.forced_calls:
      refresh's reads, and each operation's forced calls and "not yet"
      answers). On AWS this bound is the service's request rate instead."""
    made = r["reads"] + r["mutating"]
    share = min(1.0, r.get("forced_calls", 0) / made) if made else 0.0
    floor = r.get("floor", 0)
    chain = floor * latency_ms / 1000
    trips = 2 if floor > 1 else 1
    server = (trips * latency_ms / 1000 + r["emulator_cpu"] * share) if made else 0.0
    return chain, server


def table(rows: list[dict], latency_ms: int) -> str:
    """One row per step. The critical path is the chain of calls and waits that
    set the wall time (`--stats-json`'s critical_path); the floor is the larger
    of two lower bounds (`floor_seconds`): the round trips in sequence AWS
    forces on the run's longest dependency chain, and the time the emulator
    needs to serve the calls the run could not do without."""
    trips = latency_ms > 0
    lines = [
        "| stack | step | wall | "
        + ("round trips | floor: chain | floor: server | wall ÷ floor | " if trips else "floor: chain | ")
        + "critical path | infra CPU | emulator CPU | peak memory | reads | mutating | calls by operation |",
        "| --- | --- | ---: | "
        + ("---: | ---: | ---: | ---: | " if trips else "---: | ")
        + "---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        calls = ", ".join(f"{op.split(':', 1)[1]} {n}" for op, n in sorted(r["calls"].items()))
        floor = r.get("floor", 0)
        chain, server = floor_seconds(r, latency_ms)
        bound = max(chain, server)
        ratio = f"{r['wall'] / bound:.2f}" if trips and bound else "—"
        lines.append(
            f"| {r['case']} | {r['step']} | {r['wall']:.3f} s | "
            + (
                f"{r['wall'] * 1000 / latency_ms:.1f} | {floor} ({chain:.2f} s) | {server:.2f} s | {ratio} | "
                if trips
                else f"{floor} | "
            )
            + f"{r.get('path_calls', 0)} calls, {r.get('path_waits', 0)} waits | "
            + f"{r['cpu']:.3f} s | {r['emulator_cpu']:.2f} s | "
            f"{r['peak_mib']:.1f} MiB | {r['reads']} | "
            f"{r['mutating']} | {calls or '—'} |"
        )
    return "\n".join(lines) + "\n"


def in_sequence(calls: list[dict]) -> str:
    """A resource's calls in the order they ran: a call that began before any
    of the calls of the current round had ended ran beside them (`+`), any
    other after them (`→`)."""
    rounds: list[list[dict]] = []
    for call in sorted(calls, key=lambda c: c["start_ms"]):
        if rounds and call["start_ms"] < min(c["end_ms"] for c in rounds[-1]):
            rounds[-1].append(call)
        else:
            rounds.append([call])
    return " → ".join(" + ".join(c["operation"].split(":", 1)[1] for c in r) for r in rounds)


def sequences(rows: list[dict]) -> str:
    """Per kind, the calls one create and one delete made in an apply from
    nothing and a destroy, in sequence: of the kind's resources, the one that
    made the most calls."""
    by_kind: dict[str, dict[str, tuple[int, str]]] = {}
    for r in rows:
        verb = {"apply from nothing": "create", "destroy": "delete"}.get(r["step"])
        if not verb:
            continue
        by_resource: dict[str, list[dict]] = {}
        for call in r["trace"]:
            if call.get("resource"):
                by_resource.setdefault(call["resource"], []).append(call)
        for resource, calls in sorted(by_resource.items()):
            kind = r["kinds"].get(resource)
            seqs = by_kind.setdefault(kind, {}) if kind else {}
            # Of the resources of a kind, the one that made the most calls.
            if kind and len(calls) > seqs.get(verb, (0, ""))[0]:
                seqs[verb] = (len(calls), in_sequence(calls))
    lines = ["| kind | create | delete |", "| --- | --- | --- |"]
    for kind, seqs in sorted(by_kind.items()):
        create, delete = (seqs.get(verb, (0, "—"))[1] for verb in ("create", "delete"))
        lines.append(f"| {kind} | {create} | {delete} |")
    return "\n".join(lines) + "\n"


def concurrency(rows: list[dict]) -> str:
    """What each service's adaptive limit did in the largest apply."""
    applies = [r for r in rows if r["step"] == "apply from nothing" and r["concurrency"]]
    if not applies:
        return ""
    r = max(applies, key=lambda r: r["mutating"])
    lines = [
        f"Adaptive limits in the apply of {r['case']}:",
        "",
        "| service | requests | throttled | peak in flight | limit: first, lowest, highest, last |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for service, c in sorted(r["concurrency"].items()):
        if c["requests"]:
            lines.append(
                f"| {service} | {c['requests']} | {c['throttled']} | {c['peak_in_flight']} | "
                f"{c['initial']}, {c['lowest']}, {c['highest']}, {c['final']} |"
            )
    return "\n".join(lines) + "\n"


SECTION = re.compile(r"<!-- bench: (?P<key>[\w-]+) -->\n.*?<!-- /bench -->\n", re.S)


def merged(existing: str, header: str, key: str, body: str) -> str:
    """The results file with the section `key` replaced by `body` (or added),
    the others kept, under a fresh header."""
    sections = {m["key"]: m[0] for m in SECTION.finditer(existing)}
    sections[key] = f"<!-- bench: {key} -->\n{body}<!-- /bench -->\n"
    return header + "\n".join(sections[k] for k in sorted(sections, key=lambda k: (len(k), k)))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--infra", default=str(ROOT / "target/release/infra"))
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--latency-ms", type=int, default=0, help="hold every request this long (0: none)")
    parser.add_argument("--out", default=str(ROOT / "bench/results.md"))
    args = parser.parse_args()
    infra = Path(args.infra)
    sizes = [int(n) for n in args.sizes.split(",")]
    deploy = [Path("deploy")] if (ROOT / "deploy").is_dir() else []
    cases = [
        (f"{n} resources", generated_stack(n), [], STEPS + (WIDE_STEPS if n == max(sizes) else [])) for n in sizes
    ]
    cases.append(("200 EC2", ec2_stack(100, 100), [], STEPS))
    cases.append(("8 mixed", mixed_stack(), deploy, STEPS))
    cases.append(("dev stack", unprotected((ROOT / "stacks/dev.toml").read_text()), deploy, STEPS))

    rows = []
    for name, text, extra, steps in cases:
        emulator = Emulator()  # a fresh emulator per case: nothing left over from the last
        proxy = LatencyProxy(emulator.endpoint, args.latency_ms) if args.latency_ms else None
        try:
            endpoint = proxy.endpoint if proxy else emulator.endpoint
            rows.extend(run_case(infra, emulator, endpoint, name, text, extra, steps))
        finally:
            if proxy:
                proxy.stop()
            emulator.stop()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    moto = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", "import moto; print(moto.__version__)"],
                          capture_output=True, text=True).stdout.strip()
    header = (
        "# Benchmark results\n\n"
        f"- machine: {machine()}\n"
        f"- emulator: moto {moto} on loopback (one fresh server per stack), with tests/emulator/patches\n"
        f"  (ec2_resource_tags and ec2_security_group_filters make moto's EC2 reads linear in the number of\n"
        f"  resources instead of quadratic, answers unchanged)\n"
        f"- command: `make bench` (release build; wall time includes process start; infra CPU is the\n"
        f"  infra process's user+system time, emulator CPU the moto server's over the same step: with one\n"
        f"  Python process behind a global interpreter lock, emulator CPU is a floor under wall time);\n"
        f"  `make bench LATENCY_MS=100` puts tests/emulator/faultproxy.py in front of the emulator, holding\n"
        f"  every request 100 ms, and adds round trips: wall time divided by the latency; a plan, which\n"
        f"  changes nothing, is run {PLAN_RUNS} times and the run with the median wall time shown\n\n"
    )
    when = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit or 'unknown'}"
    if args.latency_ms:
        key = f"latency-{args.latency_ms}ms"
        title = f"## {args.latency_ms} ms added to every call\n\n{when}.\n\n"
        body = (
            title
            + table(rows, args.latency_ms)
            + "\n"
            + concurrency(rows)
            + "\nCalls one create and one delete make, in sequence (of each kind, the resource that made the most; `+`: at once):\n\n"
            + sequences(rows)
        )
    else:
        key = "latency-0"
        body = f"## No added latency\n\n{when}.\n\n" + table(rows, 0) + "\n" + concurrency(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = out.read_text() if out.exists() else ""
    out.write_text(merged(existing, header, key, body))
    print(body)


if __name__ == "__main__":
    main()
