# ISO remaster (images, internal/testiso): the CentOS-6.6-shaped test base,
# a qemu boot demo and the remaster benchmark. Needs the Debian packages in
# .ci/apt-packages.d/iso.txt.
#
#   make iso-test-base   build/centos66-test.iso (cached)
#   make iso-boot-demo   remaster it with examples/mt01.yaml's kickstart, boot it in qemu
#   make bench-iso       `mtprep iso` vs xorriso on a ~450 MB base; see docs/perf-iso.md
ISO_BUILD      ?= build
ISO_BENCH_MB   ?= 450
ISO_BENCH_RUNS ?= 3
MKTESTISO      := $(ISO_BUILD)/mktestiso

.PHONY: iso-test-base iso-boot-demo bench-iso mktestiso

mktestiso:
	@mkdir -p $(ISO_BUILD)
	$(GO) build -o $(MKTESTISO) ./internal/testiso/cmd/mktestiso

iso-test-base: mktestiso
	@test -f $(ISO_BUILD)/centos66-test.iso || $(MKTESTISO) -dir $(ISO_BUILD)

iso-boot-demo: mktestiso
	GO="$(GO)" BIN="$(BIN)" ISO_BUILD="$(ISO_BUILD)" sh mk/iso-boot-demo.sh

bench-iso: mktestiso
	GO="$(GO)" BIN="$(BIN)" ISO_BUILD="$(ISO_BUILD)" ISO_BENCH_MB="$(ISO_BENCH_MB)" ISO_BENCH_RUNS="$(ISO_BENCH_RUNS)" sh mk/bench-iso.sh
