# SSH benchmark (not a test): in a lab, the guest phases' wall time and SSH
# round trips of a full build, and mtprep's SFTP upload of a 500 MB file
# against OpenSSH scp, alternating. Root. Figures: docs/PERFORMANCE.md.
.PHONY: bench-sftp

BENCH_SFTP_MB   ?= 500
BENCH_SFTP_RUNS ?= 3

bench-sftp:
	$(GO) run ./internal/bench/sftp -dir build/bench-sftp -size $(BENCH_SFTP_MB) -runs $(BENCH_SFTP_RUNS)
