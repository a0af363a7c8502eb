#!/usr/bin/env bash
# One command on a fresh Debian machine: installs what is missing, builds, and
# runs every test: unit tests (no root) and BPF tests (root; they skip, saying
# why, only where BPF cannot be loaded). CI runs this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
# The sandbox and escape tests run the built samples inside `agenttrace
# sandbox`, which puts private tmpfs over these directories (the host's
# homes and temporary files are not the command's to see): a checkout below
# one of them is not there inside, and those tests would fail for that alone.
case "$(pwd -P)/" in
  /tmp/*|/var/tmp/*|/run/*|/dev/shm/*|/home/*|/root/*)
    echo "test.sh: this checkout ($(pwd -P)) is below a directory agenttrace sandbox hides (/tmp, /var/tmp, /run, /dev/shm, /home, /root); clone it elsewhere, e.g. under /work, /srv or /opt, to run the tests" >&2
    exit 2 ;;
esac
./scripts/install-deps.sh
./scripts/build.sh
./scripts/fetch-test-data.sh build/testdata
# Bun, for the tests that find BoringSSL and Bun__getEnvValue in it without
# symbols (AGENTTRACE_BUN, 1.4.5), and one release of every Bun line for those
# that locate Bun__getEnvValue in each and compile a sample with each
# (AGENTTRACE_BUNS, colon-separated).
AGENTTRACE_BUN=$(./scripts/fetch-bun.sh build/testdata/bun)
AGENTTRACE_BUNS=$(./scripts/fetch-bun.sh build/testdata/bun all | paste -sd:)
export AGENTTRACE_BUN AGENTTRACE_BUNS
# A published Node-based agent CLI, for the test that runs one in the sandbox.
AGENTTRACE_QWEN=$(./scripts/fetch-agents.sh build/testdata/agents)
export AGENTTRACE_QWEN
cd build
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO="sudo --preserve-env=AGENTTRACE_BUN,AGENTTRACE_BUNS,AGENTTRACE_QWEN"
status=0
ctest -L "unit|html" -j "$(nproc)" --output-on-failure || status=1
$SUDO ctest -L bpf --output-on-failure --timeout 300 || status=1
# A skipped BPF test must never pass silently as a green run.
skipped=$(grep -c '\[  SKIPPED \]' Testing/Temporary/LastTest.log 2>/dev/null || true)
if [ "${skipped:-0}" -gt 0 ]; then
  echo "test: ${skipped} BPF test(s) were SKIPPED; the reasons:" >&2
  grep -h -A1 'Skipped\|SKIPPED' Testing/Temporary/LastTest.log | grep -v '^--$' | sort -u | head -20 >&2
  # Where BPF works (this kernel has BTF), a skip hides a test that should
  # have run: the run fails.
  if [ -r /sys/kernel/btf/vmlinux ]; then
    echo "test: BPF can be loaded here, so a skipped BPF test fails the run" >&2
    status=1
  fi
fi
cd ..

# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer,
# in a build directory of their own with only what they need.
echo "test: unit tests under ASan and UBSan (build-asan)"
BUILD_DIR=build-asan TARGETS=unit_tests ./scripts/build.sh -DAGENTTRACE_SANITIZE=ON
(cd build-asan/tests &&
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ./unit_tests --gtest_brief=1) || { echo "test: unit tests FAILED under the sanitizers" >&2; status=1; }

# Every fuzzer for a bounded time on its seed corpus (AGENTTRACE_FUZZ_SECONDS
# each, default 20).
./scripts/fuzz.sh "${AGENTTRACE_FUZZ_SECONDS:-20}" || status=1
exit $status
