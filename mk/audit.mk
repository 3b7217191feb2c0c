# Audit benchmark (not a test): the vSphere half of `mtprep audit` for
# BENCH_AUDIT_VMS simulated MTs with mtprep's one retrieval against a loop
# of one RetrieveOne per VM, alternating, BENCH_AUDIT_RUNS runs each, at
# each request delay of BENCH_AUDIT_RTT (0: loopback; else a proxy that
# waits that long before each request, as a remote vCenter would).
# Figures: docs/PERFORMANCE.md, docs/perf-audit.md.
.PHONY: bench-audit

BENCH_AUDIT_VMS  ?= 1000
BENCH_AUDIT_RUNS ?= 3
BENCH_AUDIT_RTT  ?= 0,1ms,30ms

bench-audit:
	$(GO) run ./internal/bench/audit -vms $(BENCH_AUDIT_VMS) -runs $(BENCH_AUDIT_RUNS) -rtt $(BENCH_AUDIT_RTT)
