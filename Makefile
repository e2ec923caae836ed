# nbjail - convenience entry points; the build itself is meson + ninja.
#
#   sudo make demo    install dependencies, build, run the demo in a test world
#   sudo make check   install dependencies, build, run every test
#   sudo make bench   benchmarks against peers (bench/README.md)
#   sudo make deb     the Debian packages, in $(BUILD)/deb (debian/), checked by lintian
#
# Both only touch network namespaces they create themselves.

BUILD     ?= build
BUILD_ASAN ?= build-asan
MESON_OPTS ?=

APT_PACKAGES = gcc make pkg-config meson ninja-build scdoc \
	libseccomp-dev libnl-3-dev libnl-route-3-dev libmnl-dev libnftnl-dev \
	libssl-dev libcurl4-openssl-dev libc-ares-dev libldns-dev libyaml-dev libsystemd-dev libcmocka-dev \
	libhttp-parser-dev python3-requests \
	iproute2 nftables procps python3 python3-pytest curl socat \
	dnsmasq-base iperf3 microsocks tinyproxy dante-server i2pd \
	slurm-wlm munge libslurm-dev libjson-c-dev podman crun

.PHONY: all deps deb-deps build build-asan demo check bench unit integration install deb clean

all: build

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (sudo)" >&2; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	@# i2pd's package would start a router on the host's real network, and
	@# slurm-wlm's and munge's their daemons: the tests start their own,
	@# offline.  On a first install, mask the services and keep invoke-rc.d
	@# from starting them (policy-rc.d), then put things back.
	@if ! dpkg -s i2pd slurm-wlm munge >/dev/null 2>&1; then \
		command -v systemctl >/dev/null && systemctl mask i2pd.service slurmd.service \
			slurmctld.service munge.service >/dev/null 2>&1; \
		if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && \
			touch /usr/sbin/policy-rc.d.nbjail; \
		fi; \
	fi; true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null
	@if [ -e /usr/sbin/policy-rc.d.nbjail ]; then rm -f /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.nbjail; fi
	@if pgrep -x i2pd >/dev/null; then echo "make deps: note: an i2pd runs on this host (not started by us)" >&2; fi
	@for d in slurmd slurmctld munged; do \
		if pgrep -x $$d >/dev/null; then echo "make deps: note: a $$d runs on this host (not started by us)" >&2; fi; \
	done

# What `make deb` needs: the packaging tools and debian/control's
# Build-Depends (apt-get build-dep reads them from the source tree)
DEB_TOOLS = dpkg-dev debhelper fakeroot lintian

deb-deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deb-deps: run as root (sudo)" >&2; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_TOOLS) >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq ./ >/dev/null

build:
	@[ -d $(BUILD) ] || meson setup $(BUILD) $(MESON_OPTS)
	ninja -C $(BUILD)

build-asan:
	@[ -d $(BUILD_ASAN) ] || meson setup $(BUILD_ASAN) -Db_sanitize=address,undefined -Db_lundef=false -Dman=disabled $(MESON_OPTS)
	ninja -C $(BUILD_ASAN)

demo: deps build
	tests/demo.sh $(BUILD)/nbjail

check: deps build build-asan
	tests/run-all.sh $(BUILD) $(BUILD_ASAN)

bench: deps build
	bench/run

install: build
	meson install -C $(BUILD)

# The packages are built from a copy of the tree (without build
# directories or .git) in $(DEB_DIR)/src, so that dpkg-buildpackage's
# files (obj-*, debian/.debhelper, the .debs it writes to "..") stay out
# of the source tree.  DEB_BUILD_OPTIONS=nocheck skips the unit tests.
DEB_DIR ?= $(BUILD)/deb

deb: deb-deps
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src/nbjail
	tar -C $(CURDIR) -c --exclude-vcs --exclude='./build*' --exclude='./obj-*' \
		--exclude='./debian/.debhelper' --exclude='./debian/tmp' . | \
		tar -C $(DEB_DIR)/src/nbjail -x
	cd $(DEB_DIR)/src/nbjail && dpkg-buildpackage -us -uc -b
	mv $(DEB_DIR)/src/*.deb $(DEB_DIR)/src/*.changes $(DEB_DIR)/src/*.buildinfo $(DEB_DIR)/
	rm -rf $(DEB_DIR)/src
	@# errors fail the build; warnings and the rest are listed
	lintian --fail-on error --info $(DEB_DIR)/*.changes >$(DEB_DIR)/lintian.txt; \
		rc=$$?; cat $(DEB_DIR)/lintian.txt; exit $$rc
	@echo "make deb: $$(ls $(DEB_DIR)/*.deb | tr '\n' ' ')"

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
