#!/usr/bin/env python3
"""`make bench`: how fast infra is, on the local emulator (never in CI).

For generated stacks of 10, 100 and 1,000 resources (security groups with four
rules each, EBS volumes, a few instances) and for the dev stack, it runs: plan
from nothing, apply from nothing, a no-op plan, a no-op apply, destroy; for the
largest generated stack, apply and destroy once more with --parallelism 32. For
each it records wall time (process start included), infra's CPU time, the
emulator's CPU time over the same step (moto is one Python process: its CPU time
is a floor under the wall time), peak memory, and the AWS API calls by operation
(counted by infra's SDK interceptor, `--stats-json`). It prints a table and
writes it to bench/results.md with the machine, the date and the commit.

Usage: .venv/bin/python scripts/bench.py [--infra target/release/infra] [--sizes 10,100,1000]
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
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
    for i in range(instances):
        out.append(
            f'[resources.host{i}]\ntype = "ec2.instance"\ninstance_type = "t3.micro"\n'
            f'security_group_ids = ["${{sg{i}.id}}"]\n'
        )
    return "\n".join(out)


class Emulator:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), "-u", str(ROOT / "tests/emulator/server.py"), "--port", "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("INFRA_EMULATOR_PORT="):
            raise SystemExit(f"bench: the emulator did not start: {line!r}")
        self.endpoint = f"http://127.0.0.1:{line.split('=', 1)[1]}"
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
    infra: Path, emulator: Emulator, name: str, stack_text: str, extra: list[Path], steps: list[tuple[str, list[str]]]
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
            AWS_ENDPOINT_URL=emulator.endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            NO_COLOR="1",
            ELASTIC_PASSWORD="bench-only-password",
            INFRA_STATE_KEY=os.urandom(32).hex(),
        )
        rows = []
        for label, args in steps:
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
            rows.append(
                {
                    "case": name,
                    "step": label,
                    "wall": wall,
                    "cpu": cpu,
                    "emulator_cpu": emulator_cpu,
                    "peak_mib": stats["peak_rss_kib"] / 1024,
                    "reads": stats["reads"],
                    "mutating": stats["mutating"],
                    "calls": stats["calls"],
                }
            )
            print(f"  {name:>14}  {label:<18} {wall:8.3f}s wall {cpu:6.3f}s cpu {emulator_cpu:6.3f}s emulator cpu  "
                  f"{rows[-1]['peak_mib']:6.1f} MiB  "
                  f"{stats['reads']:5} reads {stats['mutating']:5} mutating", file=sys.stderr)
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def table(rows: list[dict]) -> str:
    lines = [
        "| stack | step | wall | infra CPU | emulator CPU | peak memory | reads | mutating | calls by operation |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        calls = ", ".join(f"{op.split(':', 1)[1]} {n}" for op, n in sorted(r["calls"].items()))
        lines.append(
            f"| {r['case']} | {r['step']} | {r['wall']:.3f} s | {r['cpu']:.3f} s | {r['emulator_cpu']:.2f} s | "
            f"{r['peak_mib']:.1f} MiB | {r['reads']} | "
            f"{r['mutating']} | {calls or '—'} |"
        )
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--out", default=str(ROOT / "bench/results.md"))
    args = parser.parse_args()
    infra = Path(args.infra)
    sizes = [int(n) for n in args.sizes.split(",")]
    cases = [
        (f"{n} resources", generated_stack(n), [], STEPS + (WIDE_STEPS if n == max(sizes) else [])) for n in sizes
    ]
    dev = (ROOT / "stacks/dev.toml").read_text()
    cases.append(("dev stack", dev, [Path("deploy")] if (ROOT / "deploy").is_dir() else [], STEPS))

    rows = []
    for name, text, extra, steps in cases:
        emulator = Emulator()  # a fresh emulator per case: nothing left over from the last
        try:
            rows.extend(run_case(infra, emulator, name, text, extra, steps))
        finally:
            emulator.stop()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    moto = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", "import moto; print(moto.__version__)"],
                          capture_output=True, text=True).stdout.strip()
    header = (
        "# Benchmark results\n\n"
        f"- machine: {machine()}\n"
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n"
        f"- commit: {commit or 'unknown'}\n"
        f"- emulator: moto {moto} on loopback (one fresh server per stack), with tests/emulator/patches\n"
        f"  (ec2_resource_tags and ec2_security_group_filters make moto's EC2 reads linear in the number of\n"
        f"  resources instead of quadratic, answers unchanged)\n"
        f"- command: `make bench` (release build; wall time includes process start; infra CPU is the\n"
        f"  infra process's user+system time, emulator CPU the moto server's over the same step: with one\n"
        f"  Python process behind a global interpreter lock, emulator CPU is a floor under wall time)\n\n"
    )
    report = header + table(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report)
    print(report)


if __name__ == "__main__":
    main()
