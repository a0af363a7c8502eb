#!/usr/bin/env bash
# Installs every Debian package that building, running and testing agenttrace need.
# Idempotent: packages already present are left alone, and it says what it does.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config git ccache
  # BPF: compiler, loader library, skeleton generator
  clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev
  # libraries the collector and analyzer link
  libcapstone-dev libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev
  nlohmann-json3-dev libcli11-dev libicu-dev libyaml-cpp-dev libcpp-httplib-dev libssl-dev
  # the sandbox's system-call filter
  libseccomp-dev
  # fleet export and collection: the NATS C client, and the server the tests start
  libnats-dev nats-server
  # tests
  libgtest-dev libgmock-dev python3 python3-jsonschema nodejs npm openssl chromium
  # runtimes whose environment coverage the tests check (CPython, Perl and Java read a start-up copy)
  perl openjdk-17-jre-headless
  # evasion samples: a static musl program, io_uring submissions through liburing
  musl-tools liburing-dev
  # fuzzers: clang's libFuzzer runtime
  libclang-rt-dev
  # run-time helpers used by tests and benchmarks
  iproute2 strace bpftrace procps curl
  # the privilege tests run agenttrace through sudo as a user they create
  sudo
)

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: installing packages needs root (run as root or install sudo)" >&2; exit 1
  fi
else
  SUDO=
fi

missing=()
for p in "${packages[@]}"; do
  # nodejs may come from another source (NodeSource); a working `node` is what the tests need.
  # Its nodejs package carries npm too, and conflicts with Debian's npm package.
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are already installed"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# libbpf attaches tracepoints through tracefs; some minimal images do not mount it.
if [ ! -d /sys/kernel/tracing/events ] && [ "$(id -u)" -eq 0 ]; then
  echo "install-deps: mounting tracefs on /sys/kernel/tracing"
  mount -t tracefs nodev /sys/kernel/tracing || echo "install-deps: could not mount tracefs (agenttrace will say so)" >&2
fi
