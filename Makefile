# wirestate: build, test, record captures and benchmark.
GO      ?= go
BIN     := bin/wirestate
PKGS    := ./...

.PHONY: all build install test vet lint race unit fuzz bench bench-synth pcaps sample clean

all: build

build:
	$(GO) build -buildvcs=true -o $(BIN) ./cmd/wirestate

## install: the binary, its man page and bash/zsh completion under PREFIX
## (DESTDIR for packaging).
PREFIX ?= /usr/local
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/wirestate
	$(BIN) --man > $(DESTDIR)$(PREFIX)/share/man/man1/wirestate.1
	$(BIN) --completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/wirestate
	$(BIN) --completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_wirestate

## test: vet and lint, then every test under the race detector.
test: vet lint race

vet:
	$(GO) vet $(PKGS)

## lint: staticcheck and deadcode (with tests) must find nothing.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
DEADCODE ?= golang.org/x/tools/cmd/deadcode@v0.51.0
lint:
	$(GO) run $(STATICCHECK) $(PKGS)
	@out=$$($(GO) run $(DEADCODE) -test $(PKGS)); if [ -n "$$out" ]; then echo "$$out"; echo "deadcode: unreachable functions"; exit 1; fi

race:
	$(GO) test -race -count=1 $(PKGS)

## unit: the tests without the race detector (quicker).
unit:
	$(GO) test -count=1 $(PKGS)

## fuzz: run every fuzz target for FUZZTIME each (CI runs it after the tests).
## Minimising each new interesting input is capped at FUZZMIN: Go's default
## (60 s) spent whole runs minimising the tracker's inputs, executing nothing new.
FUZZTIME ?= 20s
FUZZMIN ?= 1s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzTracker$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) ./tracker
	$(GO) test -run '^$$' -fuzz '^FuzzZeekHistory$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) ./tracker
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) ./capture
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) ./capture

## pcaps: re-record the sample captures from real kernels (root).
pcaps:
	bash pcaps/lab/record.sh

## bench: record the benchmark capture from real kernels (root) and measure.
bench: build
	bash bench/record.sh
	bash bench/measure.sh bench/out/bench.pcap

## bench-synth: Go benchmarks on synthetic traffic (no root).
bench-synth:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

sample: build
	$(BIN) -r pcaps/lost-final-ack.pcap

clean:
	rm -rf bin
