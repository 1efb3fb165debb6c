#!/usr/bin/env bash
# Redis online migration: how fast `mig driver redis-sync` brings a target
# in sync, against a bare REPLICAOF of the same data; and how long writers
# wait at `mig driver redis-cutover`, against the same cutover typed as
# redis-cli commands.
#
# Starts two throwaway redis-server processes on loopback (with
# passwords), fills the source with $KEYS keys of $VALUE_SIZE bytes (DEBUG
# POPULATE), then runs $PAIRS pairs of each part, alternating the order
# inside each pair:
#
# 1. Initial sync, keys per second, into a flushed target:
#      replication  REPLICAOF, timed by the replica itself: from its log line
#                   "REPLICAOF ... enabled" to "MASTER <-> REPLICA sync:
#                   Finished with success" (no client overhead counts)
#      mig sync     mig driver redis-sync, timed from outside, process start
#                   and the checks before any change included (then
#                   redis-unsync, not timed)
#    Every run is checked to leave $KEYS keys in the target.
#
# 2. The write pause at cutover. A writer (a small Python loop over one
#    connection: SET w:N N, one at a time, never pipelined) writes to the
#    source for $WRITE_SECONDS seconds and measures the longest gap between
#    two acknowledged writes; the cutover starts one second in:
#      idle         no cutover: the writer's own longest gap (its noise)
#      redis-cli    the same steps as redis-cli commands, as an operator
#                   would script them: CLIENT PAUSE 12000 WRITE, INFO
#                   replication until the target's slave_repl_offset reaches
#                   the source's master_repl_offset, REPLICAOF NO ONE, CLIENT
#                   UNPAUSE
#      mig cutover  mig driver redis-cutover (its own report of the pause is
#                   printed too)
#    The target was synced beforehand (not timed) and is checked to be a
#    master afterwards holding the writer's keys up to the pause. No write
#    may fail.
#
# It prints every pair, then the medians and the ratios against the
# baselines (mig/replication for keys/s, mig/redis-cli for the pause).
#
#   MIG=build/cli/mig bench/redis_online.sh
#
# Settings (environment): MIG (default build/cli/mig), KEYS (200000),
# VALUE_SIZE (64), PAIRS (5), PORT (first of two ports, 7390),
# WRITE_SECONDS (3), REPL_DISKLESS_LOAD (disabled, Redis's default, which
# the bare REPLICAOF runs keep; mig's sync sets on-empty-db on the target;
# give on-empty-db to have the REPLICAOF runs load as mig's do). The source
# syncs at once (repl-diskless-sync-delay 0: Redis's default waits 5 s for
# more replicas).
set -euo pipefail

MIG=${MIG:-build/cli/mig}
KEYS=${KEYS:-200000}
VALUE_SIZE=${VALUE_SIZE:-64}
PAIRS=${PAIRS:-5}
PORT=${PORT:-7390}
WRITE_SECONDS=${WRITE_SECONDS:-3}
REPL_DISKLESS_LOAD=${REPL_DISKLESS_LOAD:-disabled}
SOURCE_PORT=$PORT
TARGET_PORT=$((PORT + 1))

if [[ ! -x $MIG ]]; then
  echo "redis_online.sh: no mig binary at $MIG (set MIG)" >&2
  exit 2
fi
for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "redis_online.sh: $tool is not installed" >&2; exit 2; }
done

BENCH=redis_online.sh
REPL_DISKLESS_SYNC_DELAY=0  # the source syncs at once
source "$(dirname "$0")/lib/redis_pair.sh"
export MIG_JOURNAL=$work/journal/state.db  # the record of each sync goes beside it
mkdir -p "$work/journal"
field() { tr -d '\r' | sed -n "s/^$1:\\(.*\\)/\\1/p"; }

mig_driver() {  # mig_driver NAME [ARGS...]: output in $work/mig.out, stops the bench on failure
  local name=$1
  shift
  MIG_FROM_PASSWORD=$source_password MIG_TO_PASSWORD=$target_password \
    "$MIG" driver "$name" --from "redis://127.0.0.1:$SOURCE_PORT/0" \
    --to "redis://127.0.0.1:$TARGET_PORT/0" "$@" >"$work/mig.out" 2>&1 ||
    { cat "$work/mig.out" >&2; exit 1; }
}

start_server source "$SOURCE_PORT" "$source_password"
start_server target "$TARGET_PORT" "$target_password"

echo "filling the source with $KEYS keys..."
src DEBUG POPULATE "$KEYS" key "$VALUE_SIZE" >/dev/null
[[ $(src DBSIZE) == "$KEYS" ]] || { echo "redis_online.sh: DEBUG POPULATE failed" >&2; exit 1; }

check_target() {  # check_target WHAT MINIMUM
  local keys
  keys=$(tgt DBSIZE)
  if ((keys < $2)); then
    echo "redis_online.sh: $1 left $keys keys in the target, fewer than $2" >&2
    exit 1
  fi
}

# A plain REPLICAOF needs the source's password on the target; it goes
# through redis-cli's standard input, not its arguments. mig's sync sets it
# itself and its unsync puts it back (empty).
bare_masterauth() { printf 'CONFIG SET masterauth %s\n' "$source_password" | tgt >/dev/null; }

wait_for_link() {  # until the target has synced (one redis-cli asking every 10 ms)
  tgt -r -1 -i 0.01 INFO replication 2>/dev/null | awk '
    /^master_link_status:/ { up = ($0 ~ /:up/) }
    /^master_sync_in_progress:/ { if (up && $0 ~ /:0/) exit; up = 0 }' || true
}

log_seconds() {  # the HH:MM:SS.mmm of a redis log line, in seconds
  awk '{ split($5, t, ":"); printf "%.3f\n", t[1] * 3600 + t[2] * 60 + t[3] }'
}

sync_replication() {  # keys/s of a bare REPLICAOF into a flushed target
  local log=$work/target/log start end
  tgt FLUSHALL SYNC >/dev/null
  bare_masterauth
  tgt REPLICAOF 127.0.0.1 "$SOURCE_PORT" >/dev/null
  wait_for_link
  tgt REPLICAOF NO ONE >/dev/null
  tgt CONFIG SET masterauth "" >/dev/null
  check_target replication "$KEYS"
  start=$(grep 'REPLICAOF 127.0.0.1:.* enabled' "$log" | tail -1 | log_seconds)
  end=$(grep 'MASTER <-> REPLICA sync: Finished with success' "$log" | tail -1 | log_seconds)
  awk -v k="$KEYS" -v s="$start" -v e="$end" \
    'BEGIN { if (e < s) e += 86400; printf "%.0f\n", k / (e - s) }'
}

sync_mig() {  # keys/s of mig driver redis-sync into a flushed target
  local start end
  tgt FLUSHALL SYNC >/dev/null
  start=$(now)
  mig_driver redis-sync
  end=$(now)
  check_target "mig redis-sync" "$KEYS"
  mig_driver redis-unsync
  awk -v k="$KEYS" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f\n", k / (e - s) }'
}

# The writer: SET w:N N over one connection for $WRITE_SECONDS seconds;
# prints the writes made and the longest gap between two acknowledgements,
# in milliseconds. A write that fails stops it with status 1.
cat >"$work/writer.py" <<'EOF'
import os, socket, sys, time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
connection = socket.create_connection(("127.0.0.1", port))
connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buffered = b""

def call(*args):
    global buffered
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    connection.sendall(b"".join(parts))
    while b"\r\n" not in buffered:
        chunk = connection.recv(65536)
        if not chunk:
            sys.exit("writer: connection closed")
        buffered += chunk
    line, buffered = buffered.split(b"\r\n", 1)
    return line

if call("AUTH", os.environ["WRITER_PASSWORD"]) != b"+OK":
    sys.exit("writer: AUTH failed")
start = last = time.perf_counter()
longest, written = 0.0, 0
while last - start < seconds:
    reply = call("SET", "w:%d" % written, str(written))
    if reply != b"+OK":
        sys.exit("writer: SET failed: %s" % reply.decode(errors="replace"))
    now = time.perf_counter()
    longest = max(longest, now - last)
    last = now
    written += 1
print(written, "%.3f" % (longest * 1000))
EOF

# pause_run MODE: starts the writer, cuts over (MODE mig or redis-cli; idle:
# nothing) one second in, and prints the writer's longest gap in ms.
pause_run() {
  local mode=$1 writer source_offset
  src EVAL "for _, k in ipairs(redis.call('KEYS', 'w:*')) do redis.call('DEL', k) end" 0 \
    >/dev/null
  tgt FLUSHALL SYNC >/dev/null
  case $mode in
    mig) mig_driver redis-sync ;;
    redis-cli)
      bare_masterauth
      tgt REPLICAOF 127.0.0.1 "$SOURCE_PORT" >/dev/null
      wait_for_link
      ;;
  esac
  WRITER_PASSWORD=$source_password python3 "$work/writer.py" "$SOURCE_PORT" "$WRITE_SECONDS" \
    >"$work/writer.out" &
  writer=$!
  sleep 1
  case $mode in
    mig)
      mig_driver redis-cutover --catch-up 10000ms
      sed -n 's/^writes on [^ ]* paused for \([^:]*\):.*/\1/p' "$work/mig.out" >"$work/reported"
      ;;
    redis-cli)
      src CLIENT PAUSE 12000 WRITE >/dev/null
      source_offset=$(src INFO replication | field master_repl_offset)
      until (($(tgt INFO replication | field slave_repl_offset) >= source_offset)); do :; done
      tgt REPLICAOF NO ONE >/dev/null
      src CLIENT UNPAUSE >/dev/null
      tgt CONFIG SET masterauth "" >/dev/null
      ;;
  esac
  wait "$writer" || { echo "redis_online.sh: the writer failed ($mode)" >&2; exit 1; }
  if [[ $mode != idle ]]; then
    [[ $(tgt INFO replication | field role) == master ]] ||
      { echo "redis_online.sh: $mode left the target a replica" >&2; exit 1; }
    check_target "$mode cutover" "$((KEYS + 1))"
  fi
  cut -d' ' -f2 "$work/writer.out"
}

median() {
  sort -g | awk '{ v[NR] = $1 }
    END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "initial sync, $KEYS keys:"
printf '%-5s %-22s %16s %16s %9s\n' pair order replication "mig sync" mig/repl
repl_all=()
mig_all=()
sync_ratios=()
for pair in $(seq "$PAIRS"); do
  if ((pair % 2 == 1)); then
    order="replication, mig"
    repl=$(sync_replication)
    mig=$(sync_mig)
  else
    order="mig, replication"
    mig=$(sync_mig)
    repl=$(sync_replication)
  fi
  repl_all+=("$repl")
  mig_all+=("$mig")
  sync_ratios+=("$(ratio "$mig" "$repl")")
  printf '%-5s %-22s %16s %16s %9s\n' "$pair" "$order" "$repl keys/s" "$mig keys/s" \
    "${sync_ratios[-1]}"
done

echo
echo "write pause at cutover (the writer's longest gap between two acknowledged writes):"
printf '%-5s %-26s %10s %12s %12s %14s %10s\n' pair order idle redis-cli "mig cutover" \
  "mig reported" mig/cli
idle_all=()
cli_all=()
cut_all=()
pause_ratios=()
for pair in $(seq "$PAIRS"); do
  if ((pair % 2 == 1)); then
    order="idle, redis-cli, mig"
    idle=$(pause_run idle)
    cli=$(pause_run redis-cli)
    cut=$(pause_run mig)
  else
    order="mig, redis-cli, idle"
    cut=$(pause_run mig)
    cli=$(pause_run redis-cli)
    idle=$(pause_run idle)
  fi
  idle_all+=("$idle")
  cli_all+=("$cli")
  cut_all+=("$cut")
  pause_ratios+=("$(ratio "$cut" "$cli")")
  printf '%-5s %-26s %10s %12s %12s %14s %10s\n' "$pair" "$order" "$idle ms" "$cli ms" \
    "$cut ms" "$(cat "$work/reported")" "${pause_ratios[-1]}"
done

echo
version=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')
echo "$KEYS keys of $VALUE_SIZE bytes; redis $version; repl-diskless-load $REPL_DISKLESS_LOAD;" \
  "$(nproc) cores; writer $WRITE_SECONDS s"
echo "median keys/s: replication $(printf '%s\n' "${repl_all[@]}" | median)," \
  "mig sync $(printf '%s\n' "${mig_all[@]}" | median)"
echo "median ratio mig sync / replication: $(printf '%s\n' "${sync_ratios[@]}" | median)"
echo "median longest gap (ms): idle $(printf '%s\n' "${idle_all[@]}" | median)," \
  "redis-cli $(printf '%s\n' "${cli_all[@]}" | median)," \
  "mig cutover $(printf '%s\n' "${cut_all[@]}" | median)"
echo "median ratio mig cutover / redis-cli: $(printf '%s\n' "${pause_ratios[@]}" | median)"
