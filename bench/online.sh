#!/usr/bin/env bash
# Online PostgreSQL migration against the offline one, as the application
# sees it: pgbench writing through PgBouncer for the whole run, and the
# longest time any of its transactions waits while mig switches over.
#
# For each pgbench scale in $SCALES (14: about 200 MB, 70: about 1 GB), on
# fresh clusters (the old one with wal_level logical) and a PgBouncer in
# transaction pooling in front of the old one, $PAIRS pairs of runs in
# alternating order:
#   online   a plan whose migration phase is postgres.sync and whose
#            switchover is pause -> postgres.cutover -> point -> resume
#   offline  the same plan with postgres.copy in the switchover instead
#            (pause -> copy -> point -> resume), the writes held for the
#            whole copy
# Each run: pgbench -n -c 4 -j 2 through the pool, started before mig run
# and ending $LOAD_SECONDS later (at least 5 s after mig is done), with its
# per-transaction log (-l). The figure is the longest latency of any
# transaction that overlaps the switchover (from the pause step's start to
# the resume step's end, from mig status --json). pgbench must exit 0 with
# no failed transaction, the new server must hold every transaction it
# counted (pgbench_history rows, and the balances moved by its deltas), or
# the script stops. Between runs, mig rollback --force points the pool back
# at the old server and empties the new one; pgbench_history is emptied
# before each run (not timed).
# Prints, per run and per scale, the longest waits, their ratio
# online/offline, the switchover's steps, and medians over the pairs.
#
#   bench/online.sh     (MIG=build/cli/mig SCALES="14 70" PAIRS=1 LOAD_SECONDS=auto)
set -euo pipefail
cd "$(dirname "$0")/.."
MIG=$(realpath "${MIG:-build/cli/mig}")
SCALES=${SCALES:-14 70}
PAIRS=${PAIRS:-1}
LOAD_SECONDS=${LOAD_SECONDS:-auto}
OLD_PORT=${OLD_PORT:-25542}  # below the ephemeral range, as scripts/demo.sh explains
NEW_PORT=$((OLD_PORT + 1))
POOL_PORT=$((OLD_PORT + 2))
PGBENCH=/usr/lib/postgresql/15/bin/pgbench

work=$(mktemp -d /tmp/mig-bench-online-work.XXXXXX)
SERVERS_DIR=
pgbench_pid=
source scripts/lib/servers.sh
cleanup() {
  set +e
  if [[ -n $pgbench_pid ]]; then kill "$pgbench_pid" 2>/dev/null; wait "$pgbench_pid" 2>/dev/null; fi
  if [[ -n $SERVERS_DIR ]]; then stop_servers; fi
  rm -rf "$work"
}
trap cleanup EXIT

die() { echo "online.sh: $*" >&2; exit 1; }

# One password for both servers' postgres user: the pooler logs in to
# either with the one entry of its auth file.
pg_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
pool_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
# pgbench reads the password from a 0600 PGPASSFILE, as mig's steps do.
printf '127.0.0.1:%s:bench:postgres:%s\n' "$POOL_PORT" "$pg_password" > "$work/pgpass"
chmod 600 "$work/pgpass"
settings=(max_wal_size=4GB checkpoint_timeout=30min shared_buffers=256MB)

old_sql() { pg_as_superuser old "$OLD_PORT" -d bench -tAq -v ON_ERROR_STOP=1 -c "$1"; }
new_sql() { pg_as_superuser new "$NEW_PORT" -d bench -tAq -v ON_ERROR_STOP=1 -c "$1"; }

start_clusters() {
  SERVERS_DIR=$(mktemp -d /tmp/mig-bench-online.XXXXXX)
  start_postgres old "$OLD_PORT" "$pg_password" wal_level=logical "${settings[@]}"
  start_postgres new "$NEW_PORT" "$pg_password" "${settings[@]}"
  pg_as_superuser old "$OLD_PORT" -q -c "CREATE DATABASE bench"
  pg_as_superuser new "$NEW_PORT" -q -c "CREATE DATABASE bench"
  echo "filling the old server: pgbench -i -s $1" >&2
  "${as_postgres[@]}" "$PGBENCH" -i -q -s "$1" -h "$SERVERS_DIR/pg-old" -p "$OLD_PORT" -U postgres bench >&2
  # pgbench_history has no key; its rows are only inserted, so a full
  # replica identity costs nothing (sync needs one on every table).
  old_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
  old_sql "VACUUM ANALYZE" > /dev/null
  start_pgbouncer pool "$POOL_PORT" bench "$OLD_PORT" "$pg_password" "$pool_password"
}

write_plan() {  # KIND DIR
  local kind=$1 dir=$2 migration middle held
  if [[ $kind == online ]]; then
    held=cutover
    migration='
  phase migration {
    step sync {
      do   postgres.sync(from: old_db, to: new_db)
      undo postgres.unsync(from: old_db, to: new_db)
    }
  }
'
    middle='
    step cutover {
      do    postgres.cutover(from: old_db, to: new_db)
      after pause
    }'
  else
    held=copy
    migration=
    middle='
    step copy {
      do    postgres.copy(from: old_db, to: new_db)
      undo  postgres.wipe(db: new_db)
      after pause
    }'
  fi
  mkdir -p "$dir"
  cat > "$dir/plan.mig" <<MIG
import "std/postgres"
import "std/pgbouncer"

plan online_bench {
  retain 48h

  secret pg      { from env("BENCH_PG_PASSWORD") }
  secret pool_pw { from env("BENCH_POOL_PASSWORD") }

  source old_db postgres {
    host     "127.0.0.1"
    port     $OLD_PORT
    database "bench"
    password pg
  }

  target new_db postgres {
    host     "127.0.0.1"
    port     $NEW_PORT
    database "bench"
    password pg
  }

  endpoint pool pgbouncer {
    host     "127.0.0.1"
    port     $POOL_PORT
    password pool_pw
    database "bench"
    config   "$SERVERS_DIR/pgbouncer-pool/pgbouncer.ini"
  }

  window always {
    days     [mon, tue, wed, thu, fri, sat, sun]
    start    "00:00"
    length   24h
    timezone "UTC"
  }
$migration
  phase switchover {
    window always
    step pause {
      do   pgbouncer.pause(pool: pool)
      undo pgbouncer.resume(pool: pool)
    }$middle
    step point {
      do    pgbouncer.point(pool: pool, to: new_db)
      undo  pgbouncer.point(pool: pool, to: old_db)
      after $held
    }
    step resume {
      do    pgbouncer.resume(pool: pool)
      undo  pgbouncer.pause(pool: pool)
      after point
    }
  }

  phase verification {
    step served = postgres.query(db: new_db, sql: "SELECT count(*) FROM pgbench_history")
  }
}
MIG
}

mig_in() {  # DIR ARGS...
  local dir=$1
  shift
  (cd "$dir" && BENCH_PG_PASSWORD=$pg_password BENCH_POOL_PASSWORD=$pool_password "$MIG" "$@")
}

balances="SELECT sum(abalance) || ' ' || (SELECT sum(tbalance) FROM pgbench_tellers) || ' ' ||
          (SELECT sum(bbalance) FROM pgbench_branches) FROM pgbench_accounts"

# The per-transaction logs against the switchover's step times: prints
# shell assignments (max_wait, max_any, steps, ...).
analyze() {  # LOG_PREFIX STATUS_JSON
  python3 - "$1" "$2" <<'PY'
import glob, json, sys
prefix, status = sys.argv[1], sys.argv[2]
steps = {s["step"].split(".")[-1]: s for s in json.load(open(status))["steps"]}
begin, end = steps["pause"]["startedAt"], steps["resume"]["finishedAt"]
worst = worst_any = 0.0
failed = count = 0
first = last = None
for name in glob.glob(prefix + ".*"):
    for line in open(name):
        # client_id transaction_no time script_no time_epoch time_us
        fields = line.split()
        if fields[2] == "failed":
            failed += 1
            continue
        latency_ms = int(fields[2]) / 1000
        done_ms = int(fields[4]) * 1000 + int(fields[5]) / 1000
        start_ms = done_ms - latency_ms
        count += 1
        first = start_ms if first is None else min(first, start_ms)
        last = done_ms if last is None else max(last, done_ms)
        worst_any = max(worst_any, latency_ms)
        if done_ms >= begin and start_ms <= end:
            worst = max(worst, latency_ms)
def took(name):
    return (steps[name]["finishedAt"] - steps[name]["startedAt"]) / 1000
durations = ", ".join(
    f"{name} {took(name):.2f}" for name in ("pause", "cutover", "copy", "point", "resume")
    if name in steps)
print(f"max_wait={worst / 1000:.3f}")
print(f"max_any={worst_any / 1000:.3f}")
print(f"window={(end - begin) / 1000:.3f}")
print(f"logged={count}")
print(f"logged_failed={failed}")
print(f"load_before={(begin - first) / 1000:.1f}")
print(f"load_after={(last - end) / 1000:.1f}")
print(f"steps='{durations}'")
print(f"sync={took('sync') if 'sync' in steps else 0:.1f}")
PY
}

# One run of KIND; sets max_wait, and prints its line.
run_once() {  # KIND SCALE PAIR
  local kind=$1 scale=$2 pair=$3 dir="$work/$1-$2-$3" seconds
  write_plan "$kind" "$dir"
  old_sql "TRUNCATE pgbench_history" > /dev/null
  old_sql "CHECKPOINT" > /dev/null
  local before
  before=$(old_sql "$balances")
  seconds=$LOAD_SECONDS
  [[ $seconds == auto ]] && seconds=$(( 30 + scale * 3 / 2 ))

  PGPASSFILE=$work/pgpass "$PGBENCH" -n -c 4 -j 2 -T "$seconds" -l --log-prefix="$dir/txn" \
    -h 127.0.0.1 -p "$POOL_PORT" -U postgres bench > "$dir/pgbench.out" 2>&1 &
  pgbench_pid=$!
  sleep 3  # the writes are under way before mig starts
  local code=0
  mig_in "$dir" run plan.mig > "$dir/run.out" 2>&1 || code=$?
  (( code == 0 )) || { cat "$dir/run.out" >&2; die "$kind: mig run exited $code"; }
  code=0
  wait "$pgbench_pid" || code=$?
  pgbench_pid=
  (( code == 0 )) || { cat "$dir/pgbench.out" >&2; die "$kind: pgbench exited $code (2: a client aborted)"; }
  local processed failed
  processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$dir/pgbench.out")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$dir/pgbench.out")
  [[ $failed == 0 ]] || { cat "$dir/pgbench.out" >&2; die "$kind: $failed failed transactions"; }

  mig_in "$dir" status --json plan.mig > "$dir/status.json"
  eval "$(analyze "$dir/txn" "$dir/status.json")"
  (( logged == processed && logged_failed == 0 )) ||
    die "$kind: pgbench logged $logged transactions ($logged_failed failed), counted $processed"
  awk -v b="$load_before" 'BEGIN { exit !(b >= 1) }' ||
    die "$kind: pgbench started only ${load_before} s before the switchover"
  awk -v a="$load_after" 'BEGIN { exit !(a >= 5) }' ||
    die "$kind: pgbench stopped ${load_after} s after the switchover; raise LOAD_SECONDS (was $seconds)"

  # Every transaction pgbench counted is on the new server.
  local history after
  history=$(new_sql "SELECT count(*) || ' ' || coalesce(sum(delta), 0) FROM pgbench_history")
  [[ ${history% *} == "$processed" ]] ||
    die "$kind: the new server has ${history% *} rows in pgbench_history, pgbench processed $processed"
  after=$(new_sql "$balances")
  local delta=${history#* } expected
  expected=$(awk -v b="$before" -v d="$delta" 'BEGIN { split(b, x, " "); printf "%.0f %.0f %.0f", x[1] + d, x[2] + d, x[3] + d }')
  [[ $after == "$expected" ]] || die "$kind: balances on the new server $after, expected $expected"

  local detail=
  if [[ $kind == online ]]; then
    detail=$(mig_in "$dir" log cutover plan.mig | grep -o 'cut over: .*' || true)
  fi
  mig_in "$dir" rollback --force plan.mig > "$dir/rollback.out" 2>&1 ||
    { cat "$dir/rollback.out" >&2; die "$kind: mig rollback exited non-zero"; }
  grep -q "port=$OLD_PORT " "$SERVERS_DIR/pgbouncer-pool/pgbouncer.ini" ||
    die "$kind: the pool does not point at the old server after the rollback"

  printf '  %-7s max wait %6.3f s; switchover %.3f s (%s s); longest transaction of the run %.3f s; %s transactions, 0 failed' \
    "$kind" "$max_wait" "$window" "$steps" "$max_any" "$processed"
  [[ $kind == online ]] && printf '; sync %.1f s before it' "$sync"
  echo
  [[ -n $detail ]] && printf '          %s\n' "$detail"
  last_wait=$max_wait
}

median_of() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}

summary=()
for scale in $SCALES; do
  start_clusters "$scale"
  bytes=$(old_sql "SELECT pg_database_size('bench')")
  mib=$(echo "$bytes / 1048576" | bc -l)
  printf 'scale %s: database %.0f MiB (%s)\n' "$scale" "$mib" "$(uptime | sed 's/.*\(load average\)/\1/')"
  online=()
  offline=()
  ratios=()
  for pair in $(seq "$PAIRS"); do
    echo " pair $pair"
    if (( pair % 2 )); then
      run_once online "$scale" "$pair"; on=$last_wait
      run_once offline "$scale" "$pair"; off=$last_wait
    else
      run_once offline "$scale" "$pair"; off=$last_wait
      run_once online "$scale" "$pair"; on=$last_wait
    fi
    online+=("$on")
    offline+=("$off")
    ratios+=("$(echo "$on / $off" | bc -l)")
  done
  row=$(printf '| %s | %.0f MiB | %.2f s | %.2f s | %.3f | 0 / 0 |' "$scale" "$mib" \
    "$(median_of "${online[@]}")" "$(median_of "${offline[@]}")" "$(median_of "${ratios[@]}")")
  summary+=("$row")
  stop_servers
  SERVERS_DIR=
done

echo
echo "longest transaction wait during the switchover, medians over $PAIRS pair(s):"
echo "| scale | database | online | offline (copy in the window) | online / offline | failed (online / offline) |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
