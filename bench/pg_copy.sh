#!/usr/bin/env bash
# postgres.copy through mig against the fastest bare pipeline, pg_dump |
# psql, between the same two PostgreSQL clusters; and postgres.compare of
# the copy against the copy itself.
#
# Starts two clusters on this machine, fills the source with pgbench at
# scale $SCALE (70: about 1 GB), then runs $PAIRS pairs, alternating their
# order, each copy into a target emptied beforehand (not timed):
#   bare     pg_dump | psql --set=ON_ERROR_STOP=1
#   mig      mig run of a plan whose one step is postgres.copy(from, to)
#            (its checks of both servers, then pg_dump streamed into psql in
#            one transaction, with the target's wipe)
#   compare  mig driver postgres-compare of source and target, right after
#            the mig copy (both databases read at once)
# Prints MiB/s of each, the ratios mig/bare and compare/mig per pair, and
# their medians.
#
#   bench/pg_copy.sh            (MIG=build/cli/mig SCALE=70 PAIRS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
MIG=$(realpath "${MIG:-build/cli/mig}")
SCALE=${SCALE:-70}
PAIRS=${PAIRS:-3}
SOURCE_PORT=${SOURCE_PORT:-25532}  # below the ephemeral range, as scripts/demo.sh explains
TARGET_PORT=$((SOURCE_PORT + 1))

SERVERS_DIR=$(mktemp -d /tmp/mig-bench-pg.XXXXXX)
source scripts/lib/servers.sh
work=$(mktemp -d /tmp/mig-bench-pg-work.XXXXXX)
trap 'stop_servers; rm -rf "$work"' EXIT

source_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
target_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
# The same settings for both clusters and both ways of copying.
settings=(max_wal_size=4GB checkpoint_timeout=30min shared_buffers=256MB)
start_postgres source "$SOURCE_PORT" "$source_password" "${settings[@]}"
start_postgres target "$TARGET_PORT" "$target_password" "${settings[@]}"
pg_as_superuser source "$SOURCE_PORT" -q -c "CREATE DATABASE bench"
pg_as_superuser target "$TARGET_PORT" -q -c "CREATE DATABASE bench"

echo "filling the source: pgbench -i -s $SCALE" >&2
"${as_postgres[@]}" pgbench -i -q -s "$SCALE" -h "$SERVERS_DIR/pg-source" -p "$SOURCE_PORT" -U postgres bench >&2
bytes=$(pg_as_superuser source "$SOURCE_PORT" -d bench -tA -c "SELECT pg_database_size('bench')")

# The bare pipeline reads the passwords from a 0600 PGPASSFILE, as mig's does.
printf '127.0.0.1:%s:bench:postgres:%s\n127.0.0.1:%s:bench:postgres:%s\n' \
  "$SOURCE_PORT" "$source_password" "$TARGET_PORT" "$target_password" > "$work/pgpass"
chmod 600 "$work/pgpass"
source_url="postgresql://postgres@127.0.0.1:$SOURCE_PORT/bench"
target_url="postgresql://postgres@127.0.0.1:$TARGET_PORT/bench"

cat > "$work/copy.mig" <<MIG
import "std/postgres"

plan pg_copy_bench {
  retain 48h

  secret source_password { from env("BENCH_SOURCE_PASSWORD") }
  secret target_password { from env("BENCH_TARGET_PASSWORD") }

  source old_db postgres {
    host     "127.0.0.1"
    port     $SOURCE_PORT
    database "bench"
    password source_password
  }

  target new_db postgres {
    host     "127.0.0.1"
    port     $TARGET_PORT
    database "bench"
    password target_password
  }

  phase migration {
    step copy {
      do   postgres.copy(from: old_db, to: new_db)
      undo postgres.wipe(db: new_db)
    }
  }
}
MIG

empty_target() {
  PGPASSFILE=$work/pgpass MIG=$MIG "$MIG" driver postgres-wipe --db "$target_url" > /dev/null
}

now() { date +%s.%N; }

run_bare() {
  empty_target
  local start end
  start=$(now)
  PGPASSFILE=$work/pgpass bash -o pipefail -c \
    "pg_dump --no-password --dbname='$source_url' |
       psql --no-psqlrc --no-password --quiet --set=ON_ERROR_STOP=1 --dbname='$target_url' > /dev/null"
  end=$(now)
  echo "$end - $start" | bc
}

run_mig() {
  empty_target
  rm -rf "$work/.mig"
  local start end
  start=$(now)
  (cd "$work" && BENCH_SOURCE_PASSWORD=$source_password BENCH_TARGET_PASSWORD=$target_password \
     "$MIG" run copy.mig > /dev/null 2>&1)
  end=$(now)
  echo "$end - $start" | bc
}

run_compare() {
  local start end
  start=$(now)
  PGPASSFILE=$work/pgpass "$MIG" driver postgres-compare --a "$source_url" --b "$target_url" > "$work/compare.out"
  end=$(now)
  echo "$end - $start" | bc
}

median_of() {
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}

mib=$(echo "$bytes / 1048576" | bc -l)
printf 'database: %.0f MiB (pgbench scale %s)\n' "$mib" "$SCALE"
ratios=()
compare_ratios=()
for pair in $(seq "$PAIRS"); do
  if (( pair % 2 )); then
    bare=$(run_bare); migt=$(run_mig); comparet=$(run_compare)
  else
    migt=$(run_mig); comparet=$(run_compare); bare=$(run_bare)
  fi
  grep -q ': identical' "$work/compare.out" || { echo "compare found differences:" >&2; cat "$work/compare.out" >&2; exit 1; }
  ratio=$(echo "$migt / $bare" | bc -l)
  compare_ratio=$(echo "$comparet / $migt" | bc -l)
  ratios+=("$ratio")
  compare_ratios+=("$compare_ratio")
  printf 'pair %s: bare %.1f s (%.1f MiB/s), mig %.1f s (%.1f MiB/s), mig/bare %.3f; compare %.1f s, compare/mig %.3f\n' \
    "$pair" "$bare" "$(echo "$mib / $bare" | bc -l)" "$migt" "$(echo "$mib / $migt" | bc -l)" "$ratio" \
    "$comparet" "$compare_ratio"
done
printf 'median mig/bare over %s pairs: %.3f\n' "$PAIRS" "$(median_of "${ratios[@]}")"
printf 'median compare/mig copy over %s pairs: %.3f\n' "$PAIRS" "$(median_of "${compare_ratios[@]}")"
cat "$work/compare.out"
