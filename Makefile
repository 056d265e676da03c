# LoginSign. `make run` starts the server on http://localhost:8080 with embedded defaults;
# `make test` runs every test; `make bench` every benchmark.

GO        ?= go
BIN       := bin/loginsign
GOFLAGS_T ?=

.PHONY: dupl all build run test bench bench-load bench-rss generate check-generated vet lint clean cluster cluster-test lint-openapi

all: build

build:
	$(GO) build -o $(BIN) .

run: build
	./$(BIN) serve

# entc (with the entgql extension) first, then gqlgen.
generate:
	$(GO) generate ./ent
	$(GO) run github.com/99designs/gqlgen generate

# Fails when the generated code differs from what `make generate` writes.
check-generated: generate
	@git diff --exit-code --stat -- ent graph schema || (echo "generated code is stale: run make generate and commit" && exit 1)
	@test -z "$$(git status --porcelain -- ent graph schema)" || (git status --porcelain -- ent graph schema; echo "generate created untracked files"; exit 1)

# Lints internal/openapi/openapi.yaml (OpenAPI 3.1 structure, $refs, schemas; kin-openapi).
lint-openapi:
	$(GO) test -count=1 -run TestDocumentIsValidOpenAPI31 ./internal/openapi

vet:
	$(GO) vet ./...

# go vet, then staticcheck with every check (staticcheck.conf: the exclusions and why) on the
# hand-written packages: the generated ent packages are left out, ent/schema is kept.
LINT_PKGS = $(shell $(GO) list ./... | grep -Ev '^loginsign/ent(/|$$)') ./ent/schema
lint: vet
	$(GO) tool staticcheck $(LINT_PKGS)
	@$(MAKE) --no-print-directory dupl

# Copied code in hand-written sources (dupl, 100 tokens): generated code, tests and the
# message catalogs (data: one map per language, alike by design) are left out. Fails on any clone.
DUPL_FILES = $(shell git ls-files '*.go' | grep -v -e '_test\.go$$' -e '^ent/' -e '^graph/generated\.go$$' -e '^graph/model/models_gen\.go$$' -e '^internal/i18n/messages')
dupl:
	@out=$$($(GO) tool dupl -t 100 $(DUPL_FILES)); echo "$$out" | tail -1; \
	  echo "$$out" | grep -q 'Found total 0 clone groups' || { echo "$$out"; echo "copied code: make one function serve both"; exit 1; }

test:
	$(GO) test $(GOFLAGS_T) -count=1 -timeout 40m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s -timeout 60m ./...

# Load-tool run (README, "Performance"): real `loginsign serve` and baseline processes on
# loopback, driven by wrk (GET /api/user, introspection, the refresh grant, the baseline) and
# a Go generator (refresh, the baseline) at 16 and 64 connections; SQLite + embedded store, and PostgreSQL +
# Redis when LOGINSIGN_TEST_DATABASE_URL and LOGINSIGN_TEST_REDIS_URL are set. Needs wrk
# (Debian: apt-get install wrk); nothing else depends on it (build tag loadtest).
bench-load: build
	$(GO) build -o bin/baseline ./internal/bench/baseline
	$(GO) test -tags loadtest -count=1 -run '^TestLoad$$' -timeout 30m -v ./internal/server

# Peak RSS under the memory attacks of issue 16 (a 200 MB GraphQL body, a 3,000-alias
# analytics document), one fresh server per attack. BASE=path/to/other/loginsign measures a
# baseline binary in the same run, e.g. main's: git worktree add /tmp/main-src main &&
# (cd /tmp/main-src && go build -o /tmp/loginsign-main .) && make bench-rss BASE=/tmp/loginsign-main
bench-rss: build
	$(GO) run ./internal/bench/rss -bin $(BIN) $(if $(BASE),-base $(BASE))

# Three instances on PostgreSQL + Redis Sentinel behind HAProxy, until Ctrl-C (docs/operations.md).
cluster: build
	$(GO) run ./internal/cluster/cmd/cluster -bin $(BIN)

# The multi-instance proof at full size (make test runs it with 150 flows).
cluster-test:
	LOGINSIGN_CLUSTER_FLOWS=1000 $(GO) test -count=1 -timeout 30m -run TestCluster -v ./internal/cluster

clean:
	rm -rf bin
