# LoginSign. `make run` starts the server on http://localhost:8080 with embedded defaults;
# `make test` runs every test; `make bench` every benchmark.

GO        ?= go
BIN       := bin/loginsign
GOFLAGS_T ?=

# The Go toolchain every target builds and tests with: go1.27.3 fixes thirteen standard-library
# vulnerabilities our code reaches on go1.26.8 (net/http and HTTP/2 memory and desync issues,
# multipart header limits, crypto/x509, crypto/tls, html/template; `make vulncheck`). The go
# command fetches it from the module proxy once (76 MB). go.mod stays at go 1.26.0, so a plain
# `go build` still works, on the older standard library: build releases through make.
export GOTOOLCHAIN ?= go1.27.3

.PHONY: dupl all build run test bench bench-load bench-rss generate check-generated vet lint clean cluster cluster-test lint-openapi vulncheck vulndb

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

# Dependency vulnerability audit with govulncheck (symbol level: only what our code can reach).
# vuln.go.dev cannot be reached here, so the database is a local copy in govulncheck's v1 layout
# (index/db.json, index/modules.json, ID/GO-*.json), named by GOVULNDB (a file:// URL); without
# it the target says so and succeeds. `make vulndb` builds one from the golang.org/x/vulndb
# module on the Go module proxy (its data as of VULNDB_VERSION's date). Not part of .ci/run:
# govulncheck exits 3 on any finding, and the database is as old as the pinned version.
GOVULNCHECK    ?= $(GO) run golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
VULNDB_OUT     ?= /tmp/loginsign-vulndb

vulncheck:
	@if [ -z "$(GOVULNDB)" ]; then echo "vulncheck: skipped: set GOVULNDB=file:///path/to/db (make vulndb builds one)"; exit 0; fi; \
	rc=0; $(GOVULNCHECK) -db "$(GOVULNDB)" ./... || rc=$$?; \
	echo "--- every affected module (-scan module), for the record:"; \
	$(GOVULNCHECK) -db "$(GOVULNDB)" -scan module || true; \
	exit $$rc

vulndb:
	@src=$$(cd / && $(GO) mod download golang.org/x/vulndb@$(VULNDB_VERSION) && $(GO) list -m -f '{{.Dir}}' golang.org/x/vulndb@$(VULNDB_VERSION)); \
	test -d "$$src/data/osv" || { echo "vulndb: no data/osv in golang.org/x/vulndb@$(VULNDB_VERSION)"; exit 1; }; \
	rm -rf "$(VULNDB_OUT)" && cd / && $(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$src/data/osv" -out "$(VULNDB_OUT)" && \
	echo "vulndb: built $(VULNDB_OUT) from golang.org/x/vulndb@$(VULNDB_VERSION); use GOVULNDB=file://$(VULNDB_OUT)"

clean:
	rm -rf bin
