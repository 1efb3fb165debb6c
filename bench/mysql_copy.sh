#!/usr/bin/env bash
# How fast `mig driver mysql-copy` copies a MariaDB database, against the
# bare pipeline it wraps, mysqldump | mysql, between the same two servers.
#
# Starts two throwaway MariaDB servers on loopback (bench/lib/
# mariadb_pair.sh: as the test harness starts them, each with a root
# password kept in a 0600 option file), fills the source database `bench`
# with about $SIZE_MB MB of InnoDB data (INSERT ... SELECT from the
# sequence engine's seq_1_to_N):
#   wide    VARCHAR, TEXT, DECIMAL and DATETIME columns, a secondary index
#           (about 45 % of the bytes)
#   blobs   random binary bodies of 1-8 KiB and a BINARY(32) digest (30 %)
#   narrow  many short rows of integers (25 %)
# then runs $PAIRS pairs (of mig against each baseline: triples), each run
# into a target whose `bench` database was dropped beforehand (not timed),
# mig last in odd pairs and first in even ones, the two baselines taking
# turns in the other places (bare same mig, mig bare same, same bare mig,
# mig same bare, and again):
#   bare  mysqldump --single-transaction --routines --triggers --events
#         bench | mysql bench, after DROP DATABASE IF EXISTS + CREATE
#         DATABASE (the source's character set and collation) on the target
#         in the same timed run, as mig recreates it in its own
#   same  the same, with the options mig passes (runtime/drivers/
#         mysql_database.cpp): mysqldump --hex-blob --no-create-db
#         --default-character-set=utf8mb4 --max-allowed-packet=1G, mysql
#         --batch --default-character-set=utf8mb4 --max-allowed-packet=1G
#   mig   MIG_OPTION_FILE=... mig driver mysql-copy --from ... --from-endpoint
#         source --to ... --to-endpoint target --accounts skip --users ''
#         (its checks of the source: a SELECT ... LIMIT 0 per table and a
#         mysqldump --no-data; the target recreated; mysqldump | mysql)
# All three connect alike: TCP to 127.0.0.1, user root, the passwords from
# the option file (--defaults-extra-file, --defaults-group-suffix=-source
# or -target, as mig starts its clients). Every run is timed from outside,
# process start included, and checked to leave the source's row count in
# every table of the target. Prints per pair the seconds and the ratios
# mig/bare, mig/same and same/bare, then their medians and the CPU seconds
# of each variant (clients, source server, target server; medians). With
# DETAILS=1, then: the dump's bytes per table with and without --hex-blob,
# mysqldump alone into /dev/null (bare, bare with --hex-blob, mig's
# options), the blobs table alone loaded from a file with and without
# --hex-blob, mig's mysqldump --no-data, and mig against the same-options
# pipeline on the three tables without rows (what mig adds whatever the size).
#
#   MIG=build/cli/mig bench/mysql_copy.sh
#
# Settings (environment): MIG (default build/cli/mig), SIZE_MB (500), PAIRS
# (5), PORT (first of two ports, 23306), BUFFER_POOL (each server's
# innodb-buffer-pool-size, 128M as in the test harness), DETAILS (1; 0
# skips the details after the pairs), SETTLE (2: seconds of rest before each
# run, after the target's database is dropped).
set -euo pipefail
cd "$(dirname "$0")/.."

MIG=$(realpath "${MIG:-build/cli/mig}")
SIZE_MB=${SIZE_MB:-500}
PAIRS=${PAIRS:-5}
PORT=${PORT:-23306}  # below the ephemeral range, as scripts/demo.sh explains
BUFFER_POOL=${BUFFER_POOL:-128M}
DETAILS=${DETAILS:-1}
SETTLE=${SETTLE:-2}
SOURCE_PORT=$PORT
TARGET_PORT=$((PORT + 1))
DB=bench

if [[ ! -x $MIG ]]; then
  echo "mysql_copy.sh: no mig binary at $MIG (set MIG)" >&2
  exit 2
fi
for tool in mariadb-install-db mariadbd mariadb mariadb-admin mysql mysqldump; do
  command -v "$tool" >/dev/null || { echo "mysql_copy.sh: $tool is not installed" >&2; exit 2; }
done

BENCH=mysql_copy.sh
source bench/lib/mariadb_pair.sh

die() { echo "mysql_copy.sh: $*" >&2; exit 1; }

start_server source "$SOURCE_PORT"
start_server target "$TARGET_PORT"

# ---------------------------------------------------------------------------
# The source's data.

bytes=$((SIZE_MB * 1048576))
wide_rows=$((bytes * 45 / 100 / 520))      # about 520 bytes a row on disk, index included
blob_rows=$((bytes * 30 / 100 / 4800))     # bodies of 4.6 KiB on average
narrow_rows=$((bytes * 25 / 100 / 44))     # about 44 bytes a row on disk
CHUNK=100000

# insert TABLE ROWS SELECT-LIST: INSERT ... SELECT from the sequence engine,
# $CHUNK rows a statement (`seq` is the row's number).
insert() {
  local table=$1 rows=$2 list=$3 from=1 to
  while ((from <= rows)); do
    to=$((from + CHUNK - 1))
    ((to > rows)) && to=$rows
    echo "INSERT INTO $table SELECT $list FROM seq_${from}_to_${to};"
    from=$((to + 1))
  done
}

echo "filling the source with about $SIZE_MB MB: $wide_rows wide rows, $blob_rows blobs," \
  "$narrow_rows narrow rows..." >&2
fill_start=$(now)
{
  cat <<SQL
CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE $DB;
CREATE TABLE wide (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  customer VARCHAR(80) NOT NULL,
  email VARCHAR(120) NOT NULL,
  city VARCHAR(60),
  note TEXT,
  amount DECIMAL(12,2) NOT NULL,
  ratio DECIMAL(9,6),
  created DATETIME NOT NULL,
  updated DATETIME(3),
  KEY wide_created (created)
) ENGINE=InnoDB;
CREATE TABLE blobs (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  mime VARCHAR(40) NOT NULL,
  digest BINARY(32) NOT NULL,
  body MEDIUMBLOB NOT NULL
) ENGINE=InnoDB;
CREATE TABLE narrow (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  account INT UNSIGNED NOT NULL,
  qty SMALLINT NOT NULL,
  flag TINYINT NOT NULL
) ENGINE=InnoDB;
SQL
  insert wide "$wide_rows" "seq, CONCAT('customer ', seq), CONCAT('user', seq, '@example.com'),
    ELT(1 + seq % 5, 'Lisboa', 'Zürich', 'København', 'Kraków', 'Москва'),
    REPEAT(CONCAT(SHA2(seq, 256), ' '), 1 + seq % 8),
    (seq * 7919) % 10000000 / 100, (seq % 1000000) / 1000000,
    '2020-01-01' + INTERVAL seq * 17 SECOND, '2024-01-01' + INTERVAL seq * 1301 MICROSECOND"
  insert blobs "$blob_rows" "seq, CONCAT('file-', seq, '.bin'),
    ELT(1 + seq % 3, 'image/jpeg', 'application/pdf', 'application/octet-stream'),
    UNHEX(SHA2(seq, 256)),
    LEFT(CONCAT(RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024),
      RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024)),
      1024 + (seq * 7919) % 7169)"
  insert narrow "$narrow_rows" "seq, seq % 100003, CAST(seq % 1000 AS SIGNED) - 500, seq % 2"
  echo "ANALYZE TABLE wide, blobs, narrow;"
} | src >/dev/null
fill_end=$(now)

tables=(wide blobs narrow)
count_rows() {  # count_rows src|tgt: "TABLE ROWS" lines, exact counts
  local side=$1 table
  for table in "${tables[@]}"; do
    printf '%s %s\n' "$table" "$("$side" -e "SELECT COUNT(*) FROM $DB.$table" 2>/dev/null || echo none)"
  done
}
source_counts=$(count_rows src)
read -r charset collation < <(src -e "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME
  FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '$DB'")
db_mib=$(src -e "SELECT ROUND(SUM(DATA_LENGTH + INDEX_LENGTH) / 1048576)
  FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$DB'")
blob_mib=$(src -e "SELECT ROUND(SUM(LENGTH(body) + 32) / 1048576) FROM $DB.blobs")
printf 'source: %s MiB of InnoDB data (%s MiB of it binary values), filled in %.0f s\n' \
  "$db_mib" "$blob_mib" "$(echo "$fill_end - $fill_start" | bc)"
tr '\n' ';' <<<"$source_counts" | sed 's/;$/\n/; s/;/, /g; s/^/rows: /'

# ---------------------------------------------------------------------------
# The three ways of copying.

mapfile -t dump_source < <(client mysqldump source)
mapfile -t load_target < <(client mysql target)
bare_dump=("${dump_source[@]}" --single-transaction --routines --triggers --events "$DB")
bare_load=("${load_target[@]}" "$DB")
# runtime/drivers/mysql_database.cpp: dumpCommand and loadCommand.
mig_dump_options=(--single-transaction --routines --triggers --events --hex-blob --no-create-db
  --default-character-set=utf8mb4 --max-allowed-packet=1G)
same_dump=("${dump_source[@]}" "${mig_dump_options[@]}" "$DB")
same_load=("${load_target[@]}" --batch --default-character-set=utf8mb4 --max-allowed-packet=1G
  "--database=$DB")
recreate="DROP DATABASE IF EXISTS \`$DB\`; CREATE DATABASE \`$DB\` CHARACTER SET $charset COLLATE $collation"

# Before every run, not timed: the target's database dropped, and $SETTLE
# seconds for both servers' background work (the page cleaner) to calm.
fresh_target() {
  tgt -e "DROP DATABASE IF EXISTS \`$DB\`"
  sleep "$SETTLE"
}

check_target() {
  local counts
  counts=$(count_rows tgt)
  if [[ $counts != "$source_counts" ]]; then
    echo "mysql_copy.sh: $1 left other row counts in the target than the source's:" >&2
    diff <(echo "$source_counts") <(echo "$counts") >&2 || true
    exit 1
  fi
}

# CPU seconds (user + system) a server has used so far.
server_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' \
    "/proc/$(cat "$work/$1/pid")/stat"
}

copy_bare() {
  tgt -e "$recreate" && "${bare_dump[@]}" | "${bare_load[@]}"
}
copy_same() {
  tgt -e "$recreate" && "${same_dump[@]}" | "${same_load[@]}"
}
copy_mig() {
  MIG_OPTION_FILE=$options "$MIG" driver mysql-copy \
    --from "mysql://root@127.0.0.1:$SOURCE_PORT/$DB" --from-endpoint source \
    --to "mysql://root@127.0.0.1:$TARGET_PORT/$DB" --to-endpoint target \
    --accounts skip --users '' >"$work/mig.out"
}

# run VARIANT: sets $seconds (wall), and appends "clients source target" CPU
# seconds to $work/cpu.VARIANT.
run() {
  local variant=$1 start end cpu_src cpu_tgt times
  fresh_target
  cpu_src=$(server_cpu source)
  cpu_tgt=$(server_cpu target)
  start=$(now)
  # The CPU of the subshell's children (the clients, mig) is the second
  # line `times` prints at its end.
  times=$("copy_$variant" 2>"$work/err" >/dev/null && times) ||
    { cat "$work/err" >&2; die "$variant failed"; }
  end=$(now)
  times=${times##*$'\n'}
  seconds=$(echo "$end - $start" | bc)
  awk -v t="$times" -v s0="$cpu_src" -v s1="$(server_cpu source)" \
    -v t0="$cpu_tgt" -v t1="$(server_cpu target)" 'BEGIN {
      split(t, w, " "); u = w[1]; s = w[2]
      sub(/s$/, "", u); sub(/s$/, "", s); split(u, a, "m"); split(s, b, "m")
      printf "%.2f %.2f %.2f\n", a[1] * 60 + a[2] + b[1] * 60 + b[2], s1 - s0, t1 - t0 }' \
    >>"$work/cpu.$variant"
  check_target "$variant"
}

median() {
  sort -g | awk '{ v[NR] = $1 }
    END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
row() { printf '%-5s %-16s %8s %8s %8s %9s %9s %9s\n' "$@"; }

# mig first and last in turn, so that the order inside a pair alternates
# between mig and either baseline; the baselines take every place.
orders=("bare same mig" "mig bare same" "same bare mig" "mig same bare")
echo
row pair order bare same mig mig/bare mig/same same/bare
mig_bare=() mig_same=() same_bare=() bare_s=() same_s=() mig_s=()
for pair in $(seq "$PAIRS"); do
  order=${orders[(pair - 1) % 4]}
  for variant in $order; do
    run "$variant"
    printf -v "$variant" '%s' "$seconds"
  done
  migt=$mig
  bare_s+=("$bare") same_s+=("$same") mig_s+=("$migt")
  mig_bare+=("$(ratio "$migt" "$bare")")
  mig_same+=("$(ratio "$migt" "$same")")
  same_bare+=("$(ratio "$same" "$bare")")
  row "$pair" "${order// /, }" "$(printf '%.2f' "$bare")" "$(printf '%.2f' "$same")" \
    "$(printf '%.2f' "$migt")" "${mig_bare[-1]}" "${mig_same[-1]}" "${same_bare[-1]}"
done
echo
echo "mig said: $(cat "$work/mig.out")"
echo "$db_mib MiB ($SIZE_MB MB asked); MariaDB $(src -e 'SELECT VERSION()');" \
  "buffer pool $BUFFER_POOL; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'median seconds: bare %.2f, same %.2f, mig %.2f\n' \
  "$(printf '%s\n' "${bare_s[@]}" | median)" "$(printf '%s\n' "${same_s[@]}" | median)" \
  "$(printf '%s\n' "${mig_s[@]}" | median)"
echo "median ratio mig / bare:  $(printf '%s\n' "${mig_bare[@]}" | median)"
echo "median ratio mig / same:  $(printf '%s\n' "${mig_same[@]}" | median)"
echo "median ratio same / bare: $(printf '%s\n' "${same_bare[@]}" | median)"
echo "median CPU seconds (clients, source server, target server):"
for variant in bare same mig; do
  printf '  %-5s %6.2f %6.2f %6.2f\n' "$variant" \
    "$(cut -d' ' -f1 "$work/cpu.$variant" | median)" \
    "$(cut -d' ' -f2 "$work/cpu.$variant" | median)" \
    "$(cut -d' ' -f3 "$work/cpu.$variant" | median)"
done

[[ $DETAILS == 1 ]] || exit 0

# ---------------------------------------------------------------------------
# Where the difference goes: the dump's size with and without --hex-blob,
# the dump alone, and the check mig makes before copying.

echo
echo "dump bytes per table (MiB): without --hex-blob, with mig's options, ratio"
for table in "${tables[@]}"; do
  plain=$("${dump_source[@]}" --single-transaction "$DB" "$table" | wc -c)
  hex=$("${dump_source[@]}" "${mig_dump_options[@]}" "$DB" "$table" | wc -c)
  printf '  %-7s %8.1f %8.1f %6.3f\n' "$table" "$(echo "$plain / 1048576" | bc -l)" \
    "$(echo "$hex / 1048576" | bc -l)" "$(ratio "$hex" "$plain")"
done

timed() {  # timed COMMAND...: its wall seconds, its output discarded
  local start end
  start=$(now)
  "$@" >/dev/null
  end=$(now)
  echo "$end - $start" | bc
}
plain_dump=() hexonly_dump=() hex_dump=()
for i in 1 2 3; do
  plain_dump+=("$(timed "${bare_dump[@]}")")
  hexonly_dump+=("$(timed "${dump_source[@]}" --hex-blob "${bare_dump[@]:${#dump_source[@]}}")")
  hex_dump+=("$(timed "${same_dump[@]}")")
done
printf 'mysqldump alone into /dev/null, median of 3: bare %.2f s, bare + --hex-blob %.2f s,' \
  "$(printf '%s\n' "${plain_dump[@]}" | median)" "$(printf '%s\n' "${hexonly_dump[@]}" | median)"
printf " mig's options %.2f s\n" "$(printf '%s\n' "${hex_dump[@]}" | median)"

# The blobs table alone, dumped once each way to a file, then loaded into
# the target 3 times each way (alternating): the target server's side of
# --hex-blob.
"${dump_source[@]}" --single-transaction "$DB" blobs >"$work/blobs.sql"
"${dump_source[@]}" "${mig_dump_options[@]}" "$DB" blobs >"$work/blobs-hex.sql"
load_blobs() {  # load_blobs FILE: wall seconds into a fresh target database
  tgt -e "$recreate"
  sleep "$SETTLE"
  timed "${same_load[@]}" <"$1"
  [[ $(tgt -e "SELECT COUNT(*) FROM $DB.blobs") == "$blob_rows" ]] || die "blobs load lost rows"
}
plain_load=() hex_load=()
for i in 1 2 3; do
  if ((i % 2)); then
    plain_load+=("$(load_blobs "$work/blobs.sql")"); hex_load+=("$(load_blobs "$work/blobs-hex.sql")")
  else
    hex_load+=("$(load_blobs "$work/blobs-hex.sql")"); plain_load+=("$(load_blobs "$work/blobs.sql")")
  fi
done
printf 'the blobs table alone loaded by mysql, median of 3: without --hex-blob %.2f s, with %.2f s\n' \
  "$(printf '%s\n' "${plain_load[@]}" | median)" "$(printf '%s\n' "${hex_load[@]}" | median)"
rm -f "$work/blobs.sql" "$work/blobs-hex.sql"

nodata=()
for i in 1 2 3; do
  nodata+=("$(timed "${dump_source[@]}" "${mig_dump_options[@]}" --no-data "$DB")")
done
printf "mig's check, mysqldump --no-data, median of 3: %.3f s\n" \
  "$(printf '%s\n' "${nodata[@]}" | median)"

# mig's own cost, which does not grow with the data: the same three tables
# with no rows (database `empty`), copied 5 times each way, alternating.
src -e "CREATE DATABASE empty CHARACTER SET $charset COLLATE $collation;
  CREATE TABLE empty.wide LIKE $DB.wide; CREATE TABLE empty.blobs LIKE $DB.blobs;
  CREATE TABLE empty.narrow LIKE $DB.narrow"
empty_same() {
  tgt -e "DROP DATABASE IF EXISTS empty; CREATE DATABASE empty CHARACTER SET $charset COLLATE $collation" &&
    "${dump_source[@]}" "${mig_dump_options[@]}" empty | "${same_load[@]:0:${#same_load[@]}-1}" --database=empty
}
empty_mig() {
  MIG_OPTION_FILE=$options "$MIG" driver mysql-copy \
    --from "mysql://root@127.0.0.1:$SOURCE_PORT/empty" --from-endpoint source \
    --to "mysql://root@127.0.0.1:$TARGET_PORT/empty" --to-endpoint target --accounts skip --users ''
}
empty_same_s=() empty_mig_s=()
for i in 1 2 3 4 5; do
  if ((i % 2)); then
    empty_same_s+=("$(timed empty_same)"); empty_mig_s+=("$(timed empty_mig)")
  else
    empty_mig_s+=("$(timed empty_mig)"); empty_same_s+=("$(timed empty_same)")
  fi
done
printf 'the three tables with no rows, median of 5: same %.3f s, mig %.3f s\n' \
  "$(printf '%s\n' "${empty_same_s[@]}" | median)" "$(printf '%s\n' "${empty_mig_s[@]}" | median)"
