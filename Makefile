# mtprep: `make demo` runs the main job in the lab; `make test` runs the tests.
GO       ?= go
BIN      := bin/mtprep
FUZZTIME ?= 20000x
export PATH := $(PATH):/usr/local/go/bin

# build/ holds lab roots (an overlay of the host's /, with whatever Go files
# the host has) and test ISOs; a go.mod there keeps it out of ./... so
# `go vet ./...` and `go test ./...` never wander into it.
$(shell mkdir -p build && test -f build/go.mod || printf 'module mtprep.invalid/build\n' > build/go.mod)

.PHONY: all build deps test vet fuzz demo clean

all: build

# The Debian packages of .ci/apt-packages.d that test and demo need:
# installed when missing (as root), else the command to run is named.
deps:
	@sh mk/deps.sh

# The main job in the lab, then the ISO boot demo (mk/demo.mk).
demo: deps
	@$(MAKE) --no-print-directory demo-lab demo-iso

build:
	$(GO) build -o $(BIN) ./cmd/mtprep

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

# Unit, golden, simulator, lab and qemu boot tests, then a short run of
# every fuzzer. The lab and boot tests need root, Linux and the Debian
# packages in .ci/apt-packages.d; with CI=true they fail rather than skip.
test: deps
	@$(MAKE) --no-print-directory vet
	$(GO) test -count=1 -timeout 60m ./...
	@$(MAKE) --no-print-directory fuzz

# Every fuzzer: the spec and inventory loaders, the audit probe's parser,
# the retention decision (never a format of a disk that showed data),
# the kickstart and isolinux.cfg renderers, shell quoting. A short
# minimisation time leaves the fuzzing time to fuzzing.
FUZZERS := centos:FuzzParse provision/spec:FuzzParseInventory provision/audit:FuzzGuestFindings \
	linux:FuzzQuote provision:FuzzPlanRetention centos:FuzzKickstart images:FuzzRewriteIsolinuxCfg images:FuzzParseDiscinfo \
	ubuntu:FuzzPreseed packages:FuzzCompareDeb \
	images:FuzzUDF images:FuzzParseDiskInfo images:FuzzRewriteUbuntuBoot windows:FuzzAutounattend
fuzz:
	@set -e; for f in $(FUZZERS); do \
		echo "== fuzz $${f#*:} ($${f%%:*}, $(FUZZTIME))"; \
		out=$$($(GO) test -run='^$$' -fuzz="^$${f#*:}$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=1s ./$${f%%:*} 2>&1) \
			|| { printf '%s\n' "$$out" | tail -n 60; exit 1; }; \
		printf '%s\n' "$$out" | tail -n 3; \
	done

clean:
	rm -rf bin build

include $(wildcard mk/*.mk)
