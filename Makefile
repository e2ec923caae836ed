# nbjail - convenience entry points; the build itself is meson + ninja.
#
#   sudo make demo    install dependencies, build, run the demo in a test world
#   sudo make check   install dependencies, build, run every test
#
# Both only touch network namespaces they create themselves.

BUILD     ?= build
BUILD_ASAN ?= build-asan
MESON_OPTS ?=

APT_PACKAGES = gcc make pkg-config meson ninja-build scdoc \
	libseccomp-dev libnl-3-dev libnl-route-3-dev libmnl-dev libnftnl-dev \
	libssl-dev libc-ares-dev libldns-dev libyaml-dev libsystemd-dev libcmocka-dev \
	iproute2 nftables procps python3 python3-pytest curl socat \
	dnsmasq-base iperf3 microsocks tinyproxy dante-server

.PHONY: all deps build build-asan demo check unit integration install clean

all: build

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (sudo)" >&2; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null

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

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
