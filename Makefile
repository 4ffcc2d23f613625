# Developer and CI entry points. CI runs .ci/run, which runs `make test`.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

PORT ?= 4566
VENV_PYTHON := .venv/bin/python

.PHONY: all venv build test deny lock emulator demo bench fuzz

all: build

# The project-local virtualenv with the pinned AWS emulator (moto); a no-op when current.
venv:
	bash tests/emulator/ensure-venv.sh

build:
	cargo build

test: venv deny
	bash scripts/ensure-system-tools.sh
	bash tests/ensure-taplo.sh
	bash tests/ensure-actionlint.sh
	if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --no-fail-fast; \
	else \
		echo "cargo-nextest not installed; falling back to cargo test" >&2; \
		cargo test --no-fail-fast; \
	fi

# The supply chain: every crate's licence, source and duplicates against deny.toml
# (cargo-deny, installed on first use), and RustSec advisories where their database
# can be fetched.
deny:
	bash scripts/supply-chain.sh

# Regenerates tests/emulator/requirements.lock (every package the venv installs, with
# hashes) from tests/emulator/requirements.txt and tests/tools-requirements.txt.
lock:
	bash scripts/lock-requirements.sh

# The emulator in the foreground on 127.0.0.1:$(PORT); stop it with Ctrl-C.
emulator: venv
	exec $(VENV_PYTHON) tests/emulator/server.py --port $(PORT) --ignore-stdin

# plan, apply, plan, output, destroy of stacks/dev.toml against a throwaway emulator.
demo:
	bash scripts/demo.sh

# Timing, memory and AWS calls of plan/apply/destroy on the emulator, for generated
# stacks of 10, 100 and 1,000 resources, 200 EC2 resources, 8 of mixed kinds and the
# dev stack; writes bench/results.md. Never run by CI. SIZES=10,100 for a quicker
# run; LATENCY_MS=100 holds every request 100 ms, as a distant AWS region would.
SIZES ?= 10,100,1000
LATENCY_MS ?= 0
bench: venv
	cargo build --release --bin infra
	$(VENV_PYTHON) scripts/bench.py --infra target/release/infra --sizes $(SIZES) --latency-ms $(LATENCY_MS)

# Fuzz the stack-file parser and the state loader, FUZZ_SECONDS each (never CI).
# cargo-fuzz passes nightly-only flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them. Safe Rust needs no address sanitizer to find what we
# look for (panics, overflows); an unoptimised build keeps the overflow checks. Crashes land in fuzz/artifacts/<target>/; each one found
# becomes a regression test in tests/fuzz_regressions.rs.
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for target in stack_file state_file; do \
		mkdir -p corpus/$$target; \
		RUSTC_BOOTSTRAP=1 cargo fuzz run --dev --sanitizer none $$target corpus/$$target seeds/$$target -- -max_total_time=$(FUZZ_SECONDS); \
	done
