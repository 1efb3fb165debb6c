#!/usr/bin/env bash
# How fast `mig driver redis-copy` copies a database, against Redis's own
# replication (REPLICAOF full sync) between the same two servers.
#
# Starts two throwaway redis-server processes on loopback (with passwords),
# fills the source with $KEYS keys of $VALUE_SIZE bytes (DEBUG POPULATE),
# then runs $PAIRS pairs, alternating the order inside each pair:
#   replication      REPLICAOF on a flushed target until the sync is done
#   mig default      mig driver redis-copy (the default method: auto)
#   mig dump         mig driver redis-copy --method dump
#   mig replication  mig driver redis-copy --method replication
# and prints keys/s for each, the method auto chose, and the ratios
# mig/replication per pair and as the median of the pairs. Every run is
# checked to leave $KEYS keys.
#
#   MIG=build/cli/mig bench/redis_copy.sh
#
# Settings (environment): MIG (default build/cli/mig), KEYS (1000000),
# VALUE_SIZE (64), PAIRS (3), PORT (first of two ports, 7380),
# DATASET: strings (default: DEBUG POPULATE, no TTL), ttl (the same keys,
# each with a TTL), hashes (small hashes of two fields, no TTL),
# REPL_DISKLESS_SYNC_DELAY (0; Redis's default is 5 seconds of waiting
# for more replicas before a diskless sync starts, which would dominate),
# REPL_DISKLESS_LOAD (disabled, Redis's default, with which a replica
# writes the snapshot to disk before loading it; mig's replication sets
# on-empty-db on the target for its copy; give on-empty-db here to have
# the plain REPLICAOF runs load as mig's do).
set -euo pipefail

MIG=${MIG:-build/cli/mig}
KEYS=${KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-64}
PAIRS=${PAIRS:-3}
PORT=${PORT:-7380}
DATASET=${DATASET:-strings}
REPL_DISKLESS_SYNC_DELAY=${REPL_DISKLESS_SYNC_DELAY:-0}
REPL_DISKLESS_LOAD=${REPL_DISKLESS_LOAD:-disabled}
SOURCE_PORT=$PORT
TARGET_PORT=$((PORT + 1))

if [[ ! -x $MIG ]]; then
  echo "redis_copy.sh: no mig binary at $MIG (set MIG)" >&2
  exit 2
fi
for tool in redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "redis_copy.sh: $tool is not installed" >&2; exit 2; }
done

BENCH=redis_copy.sh
source "$(dirname "$0")/lib/redis_pair.sh"

start_server source "$SOURCE_PORT" "$source_password"
start_server target "$TARGET_PORT" "$target_password"
# The raw replication run needs the source's password on the target; send
# it through redis-cli's standard input, not its arguments.
printf 'CONFIG SET masterauth %s\n' "$source_password" | tgt >/dev/null

echo "filling the source with $KEYS keys ($DATASET)..."
case $DATASET in
  strings) src DEBUG POPULATE "$KEYS" key "$VALUE_SIZE" >/dev/null ;;
  ttl)
    src DEBUG POPULATE "$KEYS" key "$VALUE_SIZE" >/dev/null
    src EVAL "for i = 0, $KEYS - 1 do redis.call('PEXPIRE', 'key:' .. i, 36000000 + i) end" 0 \
      >/dev/null
    ;;
  hashes)
    src EVAL "for i = 0, $KEYS - 1 do
      redis.call('HSET', 'user:' .. i, 'name', 'user-' .. i, 'email', 'user' .. i .. '@example.com')
    end" 0 >/dev/null
    ;;
  *) echo "redis_copy.sh: DATASET is strings, ttl or hashes" >&2; exit 2 ;;
esac
[[ $(src DBSIZE) == "$KEYS" ]] || { echo "redis_copy.sh: DEBUG POPULATE failed" >&2; exit 1; }

fresh_target() {
  tgt FLUSHALL SYNC >/dev/null
}

check_target() {
  local keys
  keys=$(tgt DBSIZE)
  if [[ $keys != "$KEYS" ]]; then
    echo "redis_copy.sh: $1 left $keys keys in the target, not $KEYS" >&2
    exit 1
  fi
}

# Each run prints its keys per second.
#
# Replication is timed by the replica itself: from its log line "REPLICAOF
# ... enabled" to "MASTER <-> REPLICA sync: Finished with success"
# (millisecond timestamps), so no client overhead counts against it. The
# mig runs are timed from outside, process start included.
log_seconds() {  # the HH:MM:SS.mmm of a redis log line, in seconds
  awk '{ split($5, t, ":"); printf "%.3f\n", t[1] * 3600 + t[2] * 60 + t[3] }'
}

run_replication() {
  fresh_target
  local log=$work/target/log start end
  tgt REPLICAOF 127.0.0.1 "$SOURCE_PORT" >/dev/null
  # One redis-cli asks every 10 ms; awk stops at the first report of a
  # finished sync (its exit ends redis-cli by SIGPIPE).
  tgt -r -1 -i 0.01 INFO replication 2>/dev/null | awk '
    /^master_link_status:/ { up = ($0 ~ /:up/) }
    /^master_sync_in_progress:/ { if (up && $0 ~ /:0/) exit; up = 0 }' || true
  tgt REPLICAOF NO ONE >/dev/null
  check_target replication
  start=$(grep 'REPLICAOF 127.0.0.1:.* enabled' "$log" | tail -1 | log_seconds)
  end=$(grep 'MASTER <-> REPLICA sync: Finished with success' "$log" | tail -1 | log_seconds)
  awk -v k="$KEYS" -v s="$start" -v e="$end" \
    'BEGIN { if (e < s) e += 86400; printf "%.0f\n", k / (e - s) }'
}

run_mig() {
  fresh_target
  local start end
  start=$(now)
  MIG_FROM_PASSWORD=$source_password MIG_TO_PASSWORD=$target_password \
    "$MIG" driver redis-copy --from "redis://127.0.0.1:$SOURCE_PORT/0" \
    --to "redis://127.0.0.1:$TARGET_PORT/0" "$@" >"$work/mig.out" 2>&1 ||
    { cat "$work/mig.out" >&2; exit 1; }
  end=$(now)
  check_target "mig redis-copy $*"
  awk -v k="$KEYS" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f\n", k / (e - s) }'
}

median() {
  sort -g | awk '{ v[NR] = $1 }
    END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
row() { printf '%-5s %-30s %14s %14s %14s %14s %9s %9s %9s\n' "$@"; }
echo
row pair order replication "mig default" "mig dump" "mig repl" def/repl dump/repl mrep/repl
default_ratios=()
dump_ratios=()
mrepl_ratios=()
for pair in $(seq "$PAIRS"); do
  if ((pair % 2 == 1)); then
    order="repl, default, dump, mig-repl"
    repl=$(run_replication)
    default=$(run_mig)
    chose=$(sed -n 's/^method auto: \([a-z]*\).*/\1/p' "$work/mig.out")
    dump=$(run_mig --method dump)
    mrepl=$(run_mig --method replication)
  else
    order="mig-repl, dump, default, repl"
    mrepl=$(run_mig --method replication)
    dump=$(run_mig --method dump)
    default=$(run_mig)
    chose=$(sed -n 's/^method auto: \([a-z]*\).*/\1/p' "$work/mig.out")
    repl=$(run_replication)
  fi
  default_ratios+=("$(ratio "$default" "$repl")")
  dump_ratios+=("$(ratio "$dump" "$repl")")
  mrepl_ratios+=("$(ratio "$mrepl" "$repl")")
  row "$pair" "$order" "$repl keys/s" "$default keys/s" "$dump keys/s" "$mrepl keys/s" \
    "${default_ratios[-1]}" "${dump_ratios[-1]}" "${mrepl_ratios[-1]}"
done
echo
version=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')
echo "$KEYS keys ($DATASET); redis $version; repl-diskless-sync-delay" \
  "$REPL_DISKLESS_SYNC_DELAY; repl-diskless-load $REPL_DISKLESS_LOAD; $(nproc) cores;" \
  "auto chose $chose"
echo "median ratio mig default / replication:     $(printf '%s\n' "${default_ratios[@]}" | median)"
echo "median ratio mig dump / replication:        $(printf '%s\n' "${dump_ratios[@]}" | median)"
echo "median ratio mig replication / replication: $(printf '%s\n' "${mrepl_ratios[@]}" | median)"
