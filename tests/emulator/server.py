#!/usr/bin/env python3
"""The local AWS emulator for infra's tests: moto's server, plus our compatibility patches.

    .venv/bin/python tests/emulator/server.py --port 0

Binds 127.0.0.1 only (never any other address), applies every patch in
tests/emulator/patches/*.py (each module's `apply()`, in file-name order), then prints
exactly one line to stdout once the port accepts connections:

    INFRA_EMULATOR_PORT=<port>

and serves until SIGTERM or SIGINT, or until its stdin reaches end-of-file, so that a
parent that dies (even by SIGKILL) never leaves an emulator behind: the parent holds the
write end of our stdin and the kernel closes it when the parent goes. When stdin is a
terminal (a human running it in the foreground) it is not watched: stop it with Ctrl-C.
`--ignore-stdin` turns the watch off for other cases (e.g. stdin redirected from
/dev/null).

Everything other than the port line (moto's request log, patch messages) goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
HERE = Path(__file__).resolve().parent
PATCH_DIR = HERE / "patches"


def log(message: str) -> None:
    print(f"infra-emulator: {message}", file=sys.stderr, flush=True)


def isolate_from_real_aws() -> None:
    """Nothing in this process may ever hold real credentials or reach real AWS."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # AWS accounts come with the AWS-managed IAM policies
            # (arn:aws:iam::aws:policy/...); moto loads them only when asked.
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        }
    )


def apply_patches() -> list[str]:
    """Imports tests/emulator/patches/*.py in name order and calls each one's apply()."""
    applied = []
    if not PATCH_DIR.is_dir():
        return applied
    for path in sorted(PATCH_DIR.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module_name = f"infra_emulator_patches.{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load patch {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        apply = getattr(module, "apply", None)
        if not callable(apply):
            raise RuntimeError(f"patch {path} has no apply() function")
        apply()
        applied.append(path.stem)
    return applied


def wait_until_accepting(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: pick a free one)"
    )
    parser.add_argument(
        "--ignore-stdin",
        action="store_true",
        help="do not exit when stdin reaches end-of-file",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is out of range")

    isolate_from_real_aws()

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # Start watching stdin before the (slow) import of moto, so a parent that is gone
    # already is noticed at once.
    watch_stdin = not args.ignore_stdin and not (sys.stdin and sys.stdin.isatty())
    if watch_stdin:

        def drain_stdin():
            try:
                while os.read(0, 65536):
                    pass
            except OSError:
                pass
            stop.set()

        threading.Thread(target=drain_stdin, name="stdin-watch", daemon=True).start()

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    try:
        applied = apply_patches()
    except Exception as error:  # noqa: BLE001 - report any broken patch and fail
        log(f"error: applying patches failed: {error!r}")
        raise
    if applied:
        log(f"patches applied: {', '.join(applied)}")

    # What moto.server.ThreadedMotoServer does, but binding here in the main thread, so
    # that a port in use is an error and not a hang.
    app = DomainDispatcherApplication(create_backend_app)
    try:
        server = make_server(
            LOOPBACK, args.port, app, threaded=True, request_handler=MotoRequestHandler
        )
    except (OSError, SystemExit) as error:
        log(f"error: cannot listen on {LOOPBACK}:{args.port}: {error}")
        return 1
    host, port = server.server_address[:2]
    if host != LOOPBACK:  # defence in depth: never serve on anything but loopback
        log(f"error: bound to {host}, not {LOOPBACK}")
        return 1
    threading.Thread(target=server.serve_forever, name="moto-server", daemon=True).start()
    # moto builds some URLs (e.g. SQS queue URLs) from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    wait_until_accepting(port)

    if stop.is_set():
        return 0
    sys.stdout.write(f"INFRA_EMULATOR_PORT={port}\n")
    sys.stdout.flush()
    # From here on stdout is nobody's business: a parent may stop reading it. Send any
    # stray print() to stderr instead, so that it can neither block nor fail.
    os.dup2(2, 1)
    log(f"listening on http://{LOOPBACK}:{port}")

    while not stop.wait(0.5):
        pass
    log("stopping")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter shutdown: request threads may still be running, and moto's state
    # is in memory only, so there is nothing to save.
    os._exit(code)
