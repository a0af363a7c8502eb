#!/usr/bin/env bash
# The overhead and throughput benchmarks: figures, not pass/fail tests.
# Everything is measured in this one run, on this machine, as ratios against
# an untraced run where a ratio is asked for.
#   sudo scripts/bench.sh                 # all (the memory run takes 10 minutes)
#   sudo BENCH_MEMORY_SECONDS=60 scripts/bench.sh
#   sudo scripts/bench.sh storm node rate memory analyzer sandbox idle   # some of them
# Needs root (agenttrace, bpftrace). Installs and builds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "bench: run as root (agenttrace and bpftrace load BPF programs)" >&2; exit 1; fi
[ -x build/agenttrace ] && [ -x build/bench/storm ] || { ./scripts/install-deps.sh >/dev/null; ./scripts/build.sh >/dev/null; }

AT=${BENCH_AGENTTRACE:-$PWD/build/agenttrace}  # another build to compare with
B=$PWD/build/bench
REPEAT=${BENCH_REPEAT:-3}
NODE_REPEAT=${BENCH_NODE_REPEAT:-11}
STORM_N=${BENCH_STORM_ITERATIONS:-200000}
MEMORY_SECONDS=${BENCH_MEMORY_SECONDS:-600}
work=$(mktemp -d /tmp/agenttrace-bench.XXXXXX)
trap 'rm -rf "$work"; [ -n "${standin_pid:-}" ] && kill "$standin_pid" 2>/dev/null; [ -n "${bg_pid:-}" ] && kill -TERM "$bg_pid" 2>/dev/null; true' EXIT
which=("$@")
[ ${#which[@]} -eq 0 ] && which=(storm node rate memory analyzer sandbox idle)
wants() { local w; for w in "${which[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "agenttrace benchmarks on $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ); median of $REPEAT runs"
echo

# ---- 1. syscall storm ---------------------------------------------------------
# The storm prints its own iterations per second, so tool start-up (loading
# BPF programs, attaching strace) is not part of the figure.
storm_rate() {  # MODE VARIANT -> iterations per second
  local mode=$1 variant=$2 out
  case $mode in
    untraced) out=$("$B/storm" "$STORM_N" "$variant") ;;
    agenttrace) out=$("$AT" -q --no-trace-file -- "$B/storm" "$STORM_N" "$variant") ;;
    agenttrace-nostacks) out=$("$AT" -q --no-trace-file --no-stacks -- "$B/storm" "$STORM_N" "$variant") ;;
    # strace is ~70 times slower: a twentieth of the iterations gives the
    # same per-second figure in minutes instead of half an hour.
    strace) out=$(strace -f -qq -o /dev/null "$B/storm" "$((STORM_N / 20))" "$variant") ;;
    bpftrace)
      # The same events printed: opens with their path, connects, getenv names.
      out=$(bpftrace -q -e '
        tracepoint:syscalls:sys_enter_openat /comm == "storm"/ { printf("open %s\n", str(args->filename)); }
        tracepoint:syscalls:sys_exit_openat /comm == "storm"/ { printf("= %d\n", args->ret); }
        tracepoint:syscalls:sys_enter_connect /comm == "storm"/ { printf("connect %d\n", args->fd); }
        uprobe:/lib/x86_64-linux-gnu/libc.so.6:getenv /comm == "storm"/ { printf("getenv %s\n", str(arg0)); }' \
        -c "$B/storm $STORM_N $variant" 2>/dev/null | grep 'iterations in') ;;
  esac
  echo "$out" | grep -o '[0-9]* per second' | cut -d' ' -f1
}

if wants storm; then
  echo "1. Syscall storm: $STORM_N iterations of open/read/close + UDP connect (+ getenv), wall time relative to untraced"
  printf "   %-10s %12s %12s %14s %10s %10s\n" variant untraced agenttrace "--no-stacks" strace-f bpftrace
  for variant in nogetenv getenv; do
    declare -A rate=()
    for mode in untraced agenttrace agenttrace-nostacks strace bpftrace; do
      rate[$mode]=$(for i in $(seq "$REPEAT"); do storm_rate "$mode" "$variant"; done | median)
    done
    base=${rate[untraced]}
    printf "   %-10s %12s %12s %14s %10s %10s\n" "$variant" "1 (${base}/s)" \
      "$(ratio "$base" "${rate[agenttrace]}")" "$(ratio "$base" "${rate[agenttrace-nostacks]}")" \
      "$(ratio "$base" "${rate[strace]}")" "$(ratio "$base" "${rate[bpftrace]}")"
  done
  echo
fi

# ---- 2. Node.js: start, read configuration, 200 HTTP requests ----------------
if wants node; then
  "$B/../standin_demo" --seconds 3600 > "$work/standin" 2>/dev/null &
  standin_pid=$!
  for i in $(seq 100); do grep -q 'http=' "$work/standin" 2>/dev/null && break; sleep 0.05; done
  port=$(sed -n 's/^http=\([0-9]*\).*/\1/p' "$work/standin")
  echo '{"model": "claude-sample", "theme": "dark", "telemetry": false}' > "$work/config.json"
  # The whole node process, timed by bash inside whatever traces it.
  cat > "$work/node_run.sh" <<EOS
#!/bin/bash
TIMEFORMAT=%R
{ time node $PWD/bench/node_requests.mjs http://127.0.0.1:$port $work/config.json 200 >/dev/null; } 2> $work/node_time
EOS
  chmod +x "$work/node_run.sh"
  node_time() {  # MODE -> seconds
    rm -f "$work/node_time"
    case $1 in
      untraced) "$work/node_run.sh" ;;
      agenttrace) "$AT" -q --no-trace-file -- "$work/node_run.sh" ;;
      bpftrace)
        bpftrace -q -e '
          tracepoint:syscalls:sys_enter_openat /comm == "node"/ { printf("open %s\n", str(args->filename)); }
          tracepoint:syscalls:sys_enter_connect /comm == "node"/ { printf("connect %d\n", args->fd); }
          tracepoint:syscalls:sys_enter_write /comm == "node"/ { printf("write %d %r\n", args->fd, buf(args->buf, 64)); }
          uprobe:/lib/x86_64-linux-gnu/libc.so.6:getenv /comm == "node"/ { printf("getenv %s\n", str(arg0)); }' \
          -c "/bin/bash $work/node_run.sh" > /dev/null 2>&1 ;;
    esac
    cat "$work/node_time"
  }
  # A run is a quarter of a second: more rounds, the modes taking turns in
  # each, so a slow moment of the machine does not land on one mode only.
  declare -A nt=() node_samples=()
  for i in $(seq "$NODE_REPEAT"); do
    for mode in untraced agenttrace bpftrace; do node_samples[$mode]+="$(node_time "$mode") "; done
  done
  for mode in untraced agenttrace bpftrace; do
    nt[$mode]=$(printf '%s\n' ${node_samples[$mode]} | median)
  done
  echo "2. Node.js: start, read configuration, 200 HTTP requests to the local stand-in (payloads captured in full; median of $NODE_REPEAT)"
  printf "   untraced %ss; agenttrace %ss (%s); bpftrace %ss (%s)\n" "${nt[untraced]}" "${nt[agenttrace]}" \
    "$(ratio "${nt[agenttrace]}" "${nt[untraced]}")" "${nt[bpftrace]}" "$(ratio "${nt[bpftrace]}" "${nt[untraced]}")"
  echo
  kill "$standin_pid" 2>/dev/null || true
  standin_pid=
fi

# ---- 3. event rate without drops ----------------------------------------------
# flood makes stat() calls at a fixed rate for 5 seconds; the trailer says
# how many events the kernel emitted and how many the ring buffer dropped.
flood_run() {  # RATE RINGBUF -> "calls emitted dropped recorded"
  local rate=$1 rb=$2 calls
  calls=$("$AT" -q --ringbuf-size "$rb" -o "$work/flood.atrace" -- "$B/flood" 5 1 "$rate" | grep -o '^[0-9]*')
  "$AT" dump "$work/flood.atrace" | tail -1 | python3 -c "
import json, sys
t = json.loads(sys.stdin.read())
s = t['kinds']['stat']
print($calls, s['emitted'], s['dropped'], s['recorded'])"
}
if wants rate; then
  rb=${BENCH_RINGBUF:-64M}
  echo "3. Collector throughput: stat() events at a fixed rate for 5 s, ring buffer $rb, full trace file written"
  printf "   %12s %12s %12s %12s %12s\n" "asked/s" "made/s" "recorded/s" "dropped" "drop share"
  for rate in 250000 500000 750000 1000000 1500000 0; do
    read -r calls emitted dropped recorded < <(flood_run "$rate" "$rb")
    printf "   %12s %12d %12d %12d %11.3f%%\n" "$([ "$rate" = 0 ] && echo unlimited || echo "$rate")" \
      $((calls / 5)) $((recorded / 5)) "$dropped" "$(awk -v d="$dropped" -v e="$emitted" 'BEGIN {print e ? 100 * d / (d + e) : 0}')"
  done
  rm -f "$work/flood.atrace"
  echo
fi

# ---- 3b. the collector's own capacity -------------------------------------------
# A traced thread cannot make events faster than its syscalls and probes
# allow, and on 2 CPUs the producers and the collector share them. So the
# ring buffer is filled while the collector is stopped (SIGSTOP), then the
# collector is let go alone and timed until it has read, decoded and written
# every record and exited (tear-down included, so the rate is a lower bound).
drain_run() {  # THREADS -> "events seconds"
  local threads=$1 at_pid flood_pid t0 t1 state
  "$AT" -q --no-stacks --ringbuf-size 1G -o "$work/drain.atrace" -- "$B/flood" 2 "$threads" > /dev/null &
  at_pid=$!
  until flood_pid=$(pgrep -x -P "$at_pid" flood); do sleep 0.01; done
  kill -STOP "$at_pid"
  # flood exits and stays a zombie: its parent cannot reap it while stopped
  while state=$(ps -o stat= -p "$flood_pid" 2>/dev/null) && [ "${state:0:1}" != Z ]; do sleep 0.05; done
  t0=$(date +%s.%N)
  kill -CONT "$at_pid"
  wait "$at_pid" || true
  t1=$(date +%s.%N)
  "$AT" dump "$work/drain.atrace" | tail -1 | python3 -c "
import json, sys
t = json.loads(sys.stdin.read())
s = t['kinds']['stat']
print(s['recorded'], s['dropped'], $t1 - $t0)"
  rm -f "$work/drain.atrace"
}
if wants rate; then
  echo "3b. Collector alone: ring buffer (1G) filled while it is stopped, then drained; full trace file written"
  printf "   %12s %12s %12s %14s\n" events dropped seconds "events/s"
  for threads in 1 2; do
    read -r recorded dropped secs < <(drain_run "$threads")
    printf "   %12d %12d %12.2f %14.0f\n" "$recorded" "$dropped" "$secs" "$(awk -v n="$recorded" -v s="$secs" 'BEGIN {print n / s}')"
  done
  echo
fi

# ---- 4. collector memory over a long run --------------------------------------
if wants memory; then
  echo "4. Collector peak memory: $MEMORY_SECONDS s of stat() events at 300000/s, trace written to a file"
  "$AT" -q -o "$work/memory.atrace" -- "$B/flood" "$MEMORY_SECONDS" 1 300000 > /dev/null &
  at_pid=$!
  peak=0
  samples=()
  while kill -0 "$at_pid" 2>/dev/null; do
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$at_pid/status" 2>/dev/null || echo 0)
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$at_pid/status" 2>/dev/null || echo 0)
    [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
    samples+=("${rss:-0}")
    sleep 5
  done
  wait "$at_pid" || true
  n=${#samples[@]}
  echo "   peak RSS ${peak} KiB; RSS at 1/4: ${samples[$((n / 4))]:-?} KiB, at 3/4: ${samples[$((n * 3 / 4))]:-?} KiB, last: ${samples[$((n - 2))]:-?} KiB; trace $(du -h "$work/memory.atrace" | cut -f1)"
  rm -f "$work/memory.atrace"
  echo
fi

# ---- 5. analyzer --------------------------------------------------------------
if wants analyzer; then
  echo "5. Analyzer on one core:"
  "$B/analyzer_bench" 4000000 "$work/analyzer.atrace" | sed 's/^/   /'
  rm -f "$work/analyzer.atrace"
fi

# ---- 6. sandbox start-up ---------------------------------------------------------
# `true` traced plainly and in the sandbox: the difference is what building
# the sandbox costs (user and other namespaces, the read-only root, /etc's
# binds, the stand-in's certificate and sockets, the filter). bubblewrap with
# a comparable set-up, untraced, for reference.
if wants sandbox; then
  echo "6. Sandbox start-up (wall seconds, median of $REPEAT):"
  sbdir="$work/sandbox-ws"
  mkdir -p "$sbdir" && chown 65534:65534 "$sbdir" && chmod 755 "$work"  # nobody walks to its workspace
  timed() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'; }
  plain=$(for _ in $(seq "$REPEAT"); do timed "$AT" -q --force -o "$work/plain.atrace" -- true; done | median)
  sandboxed=$(for _ in $(seq "$REPEAT"); do (cd "$sbdir" && timed env -i PATH=/usr/bin:/bin "$AT" sandbox -q --force --trace "$work/sb.atrace" -- true); done | median)
  echo "   agenttrace -- true:          $plain"
  echo "   agenttrace sandbox -- true:  $sandboxed (sandbox set-up: $(awk -v a="$sandboxed" -v b="$plain" 'BEGIN {printf "%.3f", a - b}') s)"
  if command -v bwrap >/dev/null; then
    bw=$(for _ in $(seq "$REPEAT"); do timed bwrap --unshare-all --uid 65534 --gid 65534 --ro-bind / / --dev /dev --proc /proc \
      --tmpfs /tmp --tmpfs /run --tmpfs /home --tmpfs /root -- true; done | median)
    echo "   bwrap (untraced) -- true:    $bw"
  fi
  rm -f "$work"/plain.atrace "$work"/sb.atrace
fi

# ---- 7. what the untraced pay ---------------------------------------------------
# The storm started outside agenttrace (so never traced) while nothing runs,
# while a filtered watch matches nothing, and while a session traces another
# command. Rounds take turns, so a slow moment of the machine is shared.
idle_rounds=${BENCH_IDLE_ROUNDS:-5}
links_of() { cat /proc/"$1"/fdinfo/* 2>/dev/null | grep -c '^link_type' || true; }
wait_attached() {  # PID: until its BPF links stop growing
  local last=-1 now
  for _ in $(seq 100); do
    now=$(links_of "$1")
    [ "$now" -gt 2 ] && [ "$now" = "$last" ] && return 0
    last=$now
    sleep 0.5
  done
  echo "bench: agenttrace (pid $1) did not finish attaching" >&2
  return 1
}
stop_bg() { kill -TERM "$bg_pid" 2>/dev/null || true; wait "$bg_pid" 2>/dev/null || true; bg_pid=; }
if wants idle; then
  declare -A idle=()
  for _ in $(seq "$idle_rounds"); do
    idle[none]+="$(storm_rate untraced nogetenv) "
    "$AT" watch -q --comm nosuchagent --keep 1 -o "$work" & bg_pid=$!
    wait_attached "$bg_pid"
    idle[watch]+="$(storm_rate untraced nogetenv) "
    stop_bg
    "$AT" -q --no-trace-file -- sleep 3600 & bg_pid=$!
    wait_attached "$bg_pid"
    idle[session]+="$(storm_rate untraced nogetenv) "
    stop_bg
  done
  for mode in none watch session; do idle[$mode]=$(printf '%s\n' ${idle[$mode]} | median); done
  echo "7. Untraced processes: the storm ($STORM_N iterations, no getenv) outside agenttrace, iterations per second (median of $idle_rounds rounds)"
  printf "   %-38s %10s\n" "nothing running" "${idle[none]}"
  for mode in watch session; do
    label=$([ "$mode" = watch ] && echo "agenttrace watch --comm nosuchagent" || echo "agenttrace -- sleep (another command)")
    printf "   %-38s %10s  (%s%% slower)\n" "$label" "${idle[$mode]}" \
      "$(awk -v a="${idle[none]}" -v b="${idle[$mode]}" 'BEGIN {printf "%.1f", 100 * (a - b) / a}')"
  done
  rm -f "$work"/agenttrace-watch-*.atrace
  echo
fi
