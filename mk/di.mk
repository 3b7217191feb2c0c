# debian-installer test (ubuntu/di_qemu_test.go): boots bookworm's real
# d-i (Debian package debian-installer-12-netboot-amd64, plus the
# partitioning udebs mk/di-initrd.sh adds to its initrd) in qemu (TCG) with
# the Ubuntu MT's preseed and two blank SCSI disks, and checks that partman
# wrote the MT layout as plain partitions on sda and left sdb byte for byte
# as it was. About 3 minutes on 2 cores; make test runs it too when
# CI=true. Needs root, and the Debian archive for the udebs (the initrd is
# cached in build/di).
#
#   make di-test
.PHONY: di-test

DI_DIR ?= $(CURDIR)/build/di

di-test: deps
	MTPREP_DI_TEST=1 MTPREP_DI_DIR="$(DI_DIR)" $(GO) test ./ubuntu -run '^TestDebianInstallerPartitionsOSDiskOnly$$' -count=1 -v -timeout 45m
