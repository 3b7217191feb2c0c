# vSphere benchmark (not a test): mtprep's ISO upload against a plain
# Datastore.UploadFile on govmomi's in-process simulator, and the round
# trips of the vm and enable-uuid phases. Figures: docs/PERFORMANCE.md, docs/perf-vsphere.md.
.PHONY: bench-upload

BENCH_UPLOAD_MB ?= 500
BENCH_UPLOAD_RUNS ?= 3

bench-upload:
	$(GO) run ./internal/bench/upload -dir build/bench-upload -size $(BENCH_UPLOAD_MB) -runs $(BENCH_UPLOAD_RUNS)
