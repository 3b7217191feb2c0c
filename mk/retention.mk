# Retention scan benchmark (not a test; root): mtprep's full scan
# (centos.Retention.Scan running scripts/centos/retention-scan.sh locally)
# of a BENCH_SCAN_GB GB loop device on a fully written file (direct I/O, so
# reads hit the disk, not the page cache) against
# dd if=DISK of=/dev/null bs=4M iflag=direct on the same device,
# alternating, BENCH_SCAN_RUNS runs each. Figures: docs/PERFORMANCE.md.
.PHONY: bench-retention-scan

BENCH_SCAN_GB   ?= 4
BENCH_SCAN_RUNS ?= 3

bench-retention-scan:
	$(GO) run ./internal/bench/retention -gb $(BENCH_SCAN_GB) -runs $(BENCH_SCAN_RUNS)
