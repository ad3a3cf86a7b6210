# jetup: the two set-up commands are `make demo` and `make test`.
# Go >= 1.26 must be on PATH (or in /usr/local/go); everything else is
# installed here: apt packages when root, Go modules always.

export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/jetup

.PHONY: all build demo test test-stress bench lint deps-build deps-test modules clean

all: build

deps-build:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

modules:
	@$(GO) mod download

build: deps-build modules
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/jetup

# The wizard against the simulated bench.
demo: build
	$(BIN) --sim

test: deps-test modules
	$(GO) test -race -count=1 -timeout 20m ./...

# The suite beside stress-ng --cpu 2 (tui, serialcon, flash and deploy
# three times), then every fuzz target for FUZZTIME each.
FUZZTIME ?= 20s
test-stress: deps-test modules
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/test-stress.sh

# Speed and memory targets; figures go to docs/BENCHMARKS.md.
bench: deps-test modules
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

lint: deps-build modules
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

clean:
	rm -rf bin
