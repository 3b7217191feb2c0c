# The lab (internal/lab): vcsim, an MT guest with a real sshd, repositories,
# a configuration server. Needs root on Linux and .ci/apt-packages.d/lab.txt.
#
#   make lab-up      start it in the background; wait for $(LAB_STATE)/lab.env
#   make lab-down    stop it and remove whatever a killed lab left
#   make lab-status  list the labs in the registry (/run/mtlab)
#
# Use it from a shell with: set -a; . build/lab/lab.env; set +a
LAB_STATE   ?= build/lab
LAB_GUESTS  ?= 1
LAB_TIMEOUT ?= 120
LAB_FLAVOUR ?=
MTLAB       := $(LAB_STATE)/mtlab

.PHONY: lab-up lab-down lab-status mtlab

mtlab:
	@mkdir -p $(LAB_STATE)
	$(GO) build -o $(MTLAB) ./internal/lab/cmd/mtlab

# setsid: the lab outlives make and keeps running until lab-down. The wait
# ends as soon as lab.env exists (written last, by rename) or mtlab exits.
lab-up: mtlab
	@rm -f $(LAB_STATE)/lab.env
	@$(MTLAB) down -state $(LAB_STATE)
	@setsid $(MTLAB) up -state $(LAB_STATE) -guests $(LAB_GUESTS) -flavour "$(LAB_FLAVOUR)" </dev/null >$(LAB_STATE)/mtlab.log 2>&1 & \
	pid=$$!; i=0; \
	while [ ! -f $(LAB_STATE)/lab.env ]; do \
		if ! kill -0 $$pid 2>/dev/null; then cat $(LAB_STATE)/mtlab.log; echo "lab-up: mtlab exited"; exit 1; fi; \
		i=$$((i+1)); if [ $$i -gt $$(( $(LAB_TIMEOUT) * 10 )) ]; then cat $(LAB_STATE)/mtlab.log; echo "lab-up: timed out"; exit 1; fi; \
		sleep 0.1; \
	done; \
	grep -h 'lab up' $(LAB_STATE)/mtlab.log | tail -1; \
	echo "lab-up: running (pid $$pid); environment in $(LAB_STATE)/lab.env, log in $(LAB_STATE)/mtlab.log"

lab-down:
	@if [ -x $(MTLAB) ]; then $(MTLAB) down -state $(LAB_STATE); \
	else $(GO) run ./internal/lab/cmd/mtlab down -state $(LAB_STATE); fi

lab-status:
	@if [ -x $(MTLAB) ]; then $(MTLAB) status -state $(LAB_STATE); \
	else $(GO) run ./internal/lab/cmd/mtlab status -state $(LAB_STATE); fi
