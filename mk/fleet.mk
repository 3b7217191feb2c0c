# Fleet benchmark (not a test; internal/bench/fleet): 50 simulated MTs
# through upload, vm and enable-uuid at concurrency 1 and 8 in one run, on
# govmomi's in-process simulator, without and with a modelled round trip to
# vCenter. Figures: docs/PERFORMANCE.md.
#
#   make bench-fleet                      50 MTs, 400 MB media, 20 ms RTT
#   make bench-fleet BENCH_FLEET_RTT=50ms
.PHONY: bench-fleet

BENCH_FLEET_N     ?= 50
BENCH_FLEET_MEDIA ?= 400
BENCH_FLEET_RTT   ?= 20ms

bench-fleet:
	$(GO) run ./internal/bench/fleet -dir build/bench-fleet -n $(BENCH_FLEET_N) -media $(BENCH_FLEET_MEDIA) -rtt $(BENCH_FLEET_RTT)
