# DotMac Ledger: developer and CI entry points. `make help` lists the targets.
# Linters run as Go tool dependencies pinned in tools/go.mod (compiled on first use).

SHELL       := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
TOOL        := $(GO) tool -modfile=tools/go.mod
BIN         := bin/dotmac
PKGS        ?= ./...
# Every go command make runs (tests, fuzzing, bin/dotmac, the scripts it calls) builds with
# -trimpath: the checkout's directory is then no part of a package's build key, so a fresh clone
# elsewhere (CI's) finds what another checkout built in the shared build cache. Stack traces and
# race reports keep their files and lines, named by module path (github.com/dotmac/ledger/...).
# What GOFLAGS already holds (the environment's, or go env -w's) is kept.
export GOFLAGS := $(strip $(shell $(GO) env GOFLAGS) -trimpath)
# -ldflags=-w leaves DWARF out of the test binaries (a cold link of cmd/dotmac's: 4.4 -> 2.6 s).
TEST_FLAGS  ?= -race -count=1 -ldflags=-w
# Random cases per property test (pgregory.net/rapid, which reads RAPID_CHECKS) in test-integration;
# rapid's own default (100) applies to a plain go test, 1000 to test-deep.
RAPID_CHECKS ?= 30
FUZZ_PKGS   ?= ./domain/... ./eventstore/... ./commands/csvimport/... ./commands/providers/... ./internal/httpx/
FUZZ_TIME   ?= 5s
BENCH_PKGS  ?= ./eventstore/...
BENCH_FLAGS ?= -benchmem
DATA_DIR    ?= var/postgres
# Arguments passed to `bin/dotmac serve` by `make run`, e.g. make run ARGS='--role query'.
ARGS        ?=
# make image: the tag, the version `dotmac --version` prints, and the engine (default: the
# first of podman, buildah and docker that is installed).
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE       ?= localhost/dotmac-ledger:$(VERSION)
ENGINE      ?=
# Extra arguments of the engine's build, e.g. IMAGE_FLAGS='--isolation chroot' where the OCI
# runtime cannot start containers, or --build-arg GO_IMAGE=... RUNTIME_IMAGE=... for a mirror.
IMAGE_FLAGS ?=

# gosec rules excluded project-wide (each exclusion needs a reason):
#   G104  unhandled errors: errcheck (make lint) already reports these, with better exclusions.
#   G115  integer conversion overflow: flags every int64<->uint64 conversion of event positions
#         and versions, which are range-checked where they enter (BIGINT >= 0, validated input).
# Anything else is fixed, or suppressed at the line with `// #nosec Gxxx -- reason`.
GOSEC_EXCLUDE ?= G104,G115

.PHONY: help build run test test-scale test-unit test-integration test-deep test-browser fuzz lint format check security bench bench-go bench-smoke \
	clean clean-data db-stop image validate-deploy

help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "  %-17s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

build: ## Build bin/dotmac from ./cmd/dotmac (scripts/build.sh: says what a first build downloads and compiles, and how long it took)
	@GO=$(GO) scripts/build.sh $(BIN) ./cmd/dotmac

run: build ## Build, then run `bin/dotmac serve` (reads .env if present; extra flags: ARGS=...; PostgreSQL found or started by dotmac; migrates as dotmac_owner, serves as dotmac_app)
	./$(BIN) serve $(if $(wildcard .env),--env-file .env) $(ARGS)

test: ## The full CI suite: every test with -race, a short fuzz run of every Fuzz target, a bench smoke run
	$(MAKE) --no-print-directory test-integration
	$(MAKE) --no-print-directory fuzz
	$(MAKE) --no-print-directory bench-smoke

test-scale: build ## The topology test (cmd/dotmac/topology, build tag scale): PostgreSQL 15 primary + pg_basebackup replica, 2 command, 2 projector, 1 query process; kills and takeover (about a minute)
	DOTMAC_BIN=$(abspath $(BIN)) $(GO) test -tags scale -count=1 -v -timeout 15m ./cmd/dotmac/topology/

test-unit: ## Unit tests only: -short, so tests needing PostgreSQL skip themselves
	$(GO) test -short $(TEST_FLAGS) $(PKGS)

test-integration: ## Every test, including those needing PostgreSQL (TEST_DATABASE_URL, DATABASE_URL or 127.0.0.1:5432); RAPID_CHECKS cases per property test (30)
	RAPID_CHECKS=$(RAPID_CHECKS) $(GO) test $(TEST_FLAGS) $(PKGS)

test-deep: ## Every test at full size (DOTMAC_TEST_DEEP=1: Watermill's suite, the store race, ...; 1000 cases per property test): tens of minutes, not part of CI
	DOTMAC_TEST_DEEP=1 RAPID_CHECKS=1000 $(GO) test $(TEST_FLAGS) -timeout 60m $(PKGS)

test-browser: ## The console end to end in headless Chromium (Debian's chromium, driven by chromedp; build tag browser); screenshots under test-output/console/
	$(GO) test -tags browser $(TEST_FLAGS) -run '^TestConsoleInBrowser$$' ./cmd/dotmac/

fuzz: ## Run each Fuzz* target of FUZZ_PKGS for FUZZ_TIME (5s) (FUZZ_PKGS=..., FUZZ_TIME=...)
	FUZZ_TIME=$(FUZZ_TIME) scripts/fuzz.sh $(FUZZ_PKGS)

lint: ## golangci-lint run (config: .golangci.yml)
	$(TOOL) golangci-lint run $(PKGS)

format: ## Rewrite Go files with gofmt and goimports (local prefix github.com/dotmac/ledger)
	$(TOOL) golangci-lint fmt $(PKGS)

check: ## Fail on unformatted files or an untidy go.mod, then go vet, the layering rules (scripts/layering.sh), lint and validate-deploy
	@$(TOOL) golangci-lint fmt --diff $(PKGS) || { echo "unformatted files: run 'make format'" >&2; exit 1; }
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run 'go mod tidy'" >&2; exit 1; }
	$(GO) vet $(PKGS)
	@scripts/layering.sh
	@scripts/fuzz.sh --self-test
	$(TOOL) golangci-lint run $(PKGS)
	@$(MAKE) --no-print-directory validate-deploy

validate-deploy: ## Validate deploy/, the Dockerfile and .dockerignore offline with the formats' own parsers (tools/deploycheck)
	@cd tools/deploycheck && { $(GO) mod tidy -diff || { echo "tools/deploycheck/go.mod is not tidy: run 'go mod tidy' there" >&2; exit 1; }; }
	cd tools/deploycheck && $(GO) test -count=1 ./...

image: ## Build the container image $(IMAGE) from the Dockerfile with podman, buildah or docker (ENGINE=...)
	@engine="$(ENGINE)"; \
	if [[ -z $$engine ]]; then for e in podman buildah docker; do if command -v $$e >/dev/null; then engine=$$e; break; fi; done; fi; \
	if [[ -z $$engine ]]; then echo "make image: no container engine: install podman, buildah or docker (or name one with ENGINE=...)" >&2; exit 1; fi; \
	echo "make image: $$engine build -t $(IMAGE) (VERSION=$(VERSION))"; \
	$$engine build --build-arg VERSION=$(VERSION) $(IMAGE_FLAGS) -t $(IMAGE) -f Dockerfile .

security: ## gosec over non-test code (excluded rules and why: see GOSEC_EXCLUDE in the Makefile)
	$(TOOL) gosec -quiet -color=false -exclude-generated -exclude=$(GOSEC_EXCLUDE) $(PKGS)

bench: build ## dotmac bench, every scenario on 1,000,000 events (writes bench.json), then the event-store Go benchmarks
	./$(BIN) bench --json bench.json
	scripts/bench-eventstore.sh

bench-smoke: build ## dotmac bench on 10,000 events with 1 s phases: every scenario runs, in seconds, so the harness never rots; then the server's scenarios with its roles apart
	./$(BIN) bench --events 10000 --duration 1s --query-rates 1000 --log-level warn
	./$(BIN) bench --events 10000 --duration 1s --log-level warn --scenario commands,billing_run --roles-apart

bench-go: ## Every Go benchmark in BENCH_PKGS (default ./eventstore/...)
	$(GO) test -run '^$$' -bench . $(BENCH_FLAGS) $(BENCH_PKGS)

clean: ## Remove bin/ and the Go test cache (./var is kept: see clean-data)
	rm -rf bin/
	$(GO) clean -testcache

db-stop: ## Stop the private PostgreSQL cluster under ./var/postgres if one is running
	scripts/pg-private-stop.sh $(DATA_DIR)

clean-data: db-stop ## Stop the private cluster and delete ./var (all local data)
	rm -rf var/
