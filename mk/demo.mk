# make demo (the top Makefile: demo: demo-lab demo-iso): the main job end
# to end in the lab, as root on a machine with the Debian packages of
# .ci/apt-packages.d. mk/demo.sh starts the lab, writes build/demo/mt01.yaml
# from its lab.env, runs `mtprep build` (every phase; the lab's install
# stand-in plays anaconda when the VM powers on with its ISO), runs it
# again (every phase done), audits the MT, prints the handoff manifest and
# stops the lab. demo-iso then runs the ISO boot demo of mk/iso.mk when
# there is one. A few minutes on 2 cores.
# make demo-ubuntu does the same for an Ubuntu 16.04 MT (os: ubuntu-16.04:
# the lab's Ubuntu guest flavour, the Ubuntu base stand-in, .debs); make
# demo DEMO_OS=ubuntu-16.04 is the same.
.PHONY: demo-lab demo-iso demo-ubuntu

DEMO_DIR ?= build/demo
DEMO_OS  ?= centos-6.6

demo-lab: build mtlab
	@GO="$(GO)" BIN="$(BIN)" LAB_STATE="$(LAB_STATE)" DEMO_DIR="$(DEMO_DIR)" ISO_BUILD="$(ISO_BUILD)" MAKE="$(MAKE)" DEMO_OS="$(DEMO_OS)" sh mk/demo.sh

demo-ubuntu: deps
	@$(MAKE) --no-print-directory demo-lab DEMO_OS=ubuntu-16.04

demo-iso:
	@if $(MAKE) -n iso-boot-demo >/dev/null 2>&1; then \
		echo "== ISO boot demo (make iso-boot-demo)"; \
		$(MAKE) --no-print-directory iso-boot-demo; \
	else echo "== no iso-boot-demo target: skipping the ISO boot demo"; fi
