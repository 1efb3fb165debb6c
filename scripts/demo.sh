#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine: installs what is missing, builds
# mig, starts two PostgreSQL clusters and two Redis servers on this machine
# with sample data in the old ones, and takes examples/demo.mig through
# lint, plan, run, status and rollback. Everything it starts is stopped
# when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/setup.sh
scripts/build.sh
mig="$root/build/cli/mig"

SERVERS_DIR=$(mktemp -d /tmp/mig-demo.XXXXXX)
source scripts/lib/servers.sh

export DEMO_OLD_PG_PASSWORD="old-pg-$RANDOM$RANDOM"
export DEMO_NEW_PG_PASSWORD="new-pg-$RANDOM$RANDOM"
export DEMO_OLD_REDIS_PASSWORD="old-redis-$RANDOM$RANDOM"
export DEMO_NEW_REDIS_PASSWORD="new-redis-$RANDOM$RANDOM"
export DEMO_ONLINE_PG_PASSWORD="online-pg-$RANDOM$RANDOM"
export DEMO_POOL_PASSWORD="pool-$RANDOM$RANDOM"

cleanup() {
  stop_servers
  [[ -n ${pgbench_pid:-} ]] && kill "$pgbench_pid" 2>/dev/null
  rm -rf "$root/examples/.mig" "$root/examples/app.env" "$root/examples/app-maintenance.flag" \
    "$root/examples/demo-shop-final.dump" "$root/examples/pgbouncer-demo.ini" "${pgbench_out:-}"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting two PostgreSQL clusters and two Redis servers on this machine"
# Ports below Linux's ephemeral range (32768-60999): there, any program's
# closed client connection can hold a port in TIME_WAIT for a minute, and
# a server cannot listen on it meanwhile.
start_postgres old 25432 "$DEMO_OLD_PG_PASSWORD" fsync=off
start_postgres new 25433 "$DEMO_NEW_PG_PASSWORD" fsync=off
pg_as_superuser old 25432 -q -c "CREATE DATABASE shop"
pg_as_superuser new 25433 -q -c "CREATE DATABASE shop"
start_redis old 26379 "$DEMO_OLD_REDIS_PASSWORD"
start_redis new 26380 "$DEMO_NEW_REDIS_PASSWORD"

say "filling the old ones with a shop: customers, products, orders, owned by shop_owner, with a reporting role; sessions and carts"
pg_as_superuser old 25432 -d shop -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE ROLE shop_owner;
CREATE ROLE shop_reporting LOGIN;
ALTER SCHEMA public OWNER TO shop_owner;
ALTER DATABASE shop SET statement_timeout = '30s';
SET ROLE shop_owner;
CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL, created timestamptz DEFAULT now());
CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price_cents int NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers, product_id int REFERENCES products,
                     quantity int NOT NULL, placed timestamptz NOT NULL);
CREATE INDEX orders_by_customer ON orders (customer_id);
CREATE VIEW revenue_by_product AS
  SELECT p.name, sum(o.quantity * p.price_cents) AS cents FROM orders o JOIN products p ON p.id = o.product_id GROUP BY p.name;
INSERT INTO customers (email) SELECT 'customer' || i || '@example.com' FROM generate_series(1, 2000) i;
INSERT INTO products (name, price_cents) SELECT 'product ' || i, 100 + (i * 37) % 9900 FROM generate_series(1, 200) i;
INSERT INTO orders (customer_id, product_id, quantity, placed)
  SELECT 1 + (i * 7) % 2000, 1 + (i * 13) % 200, 1 + i % 5, now() - (i || ' minutes')::interval FROM generate_series(1, 50000) i;
GRANT SELECT ON revenue_by_product TO shop_reporting;
SQL
{
  for i in $(seq 1 500); do
    echo "HSET session:$i user $((i % 2000)) cart cart:$i"
    echo "EXPIRE session:$i 3600"
    echo "RPUSH cart:$i product:$((i % 200)) product:$(((i * 3) % 200))"
  done
  echo "ZADD bestsellers 120 product:7 95 product:42 80 product:13"
  echo "SET visits 123456"
} | REDISCLI_AUTH=$DEMO_OLD_REDIS_PASSWORD redis-cli -p 26379 --no-auth-warning >/dev/null

cd "$root/examples"

say "mig lint demo.mig"
"$mig" lint demo.mig

say "mig plan demo.mig   (what run will do, in order)"
"$mig" plan demo.mig | sed -n '1,40p'
echo "  ... (mig plan prints every step's expanded commands)"

say "mig run demo.mig"
"$mig" run demo.mig -j 2

say "mig status demo.mig"
"$mig" status demo.mig

say "the new servers now hold the data, and the app points at them"
printf '  orders on the new PostgreSQL: '
pg_as_superuser new 25433 -d shop -tA -c "SELECT count(*) FROM orders"
printf '  with their owner, privileges and settings: '
pg_as_superuser new 25433 -d shop -tA -F ', ' -c "SELECT 'orders owned by ' || pg_get_userbyid(relowner),
  'shop_reporting may read revenue_by_product: ' || has_table_privilege('shop_reporting', 'revenue_by_product', 'SELECT'),
  (SELECT array_to_string(setconfig, ' ') FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'shop'))
  FROM pg_class WHERE relname = 'orders'"
printf '  keys on the new Redis: '
REDISCLI_AUTH=$DEMO_NEW_REDIS_PASSWORD redis-cli -p 26380 --no-auth-warning DBSIZE
sed 's/^/  app.env: /' app.env

say "mig rollback --force demo.mig   (switchover is done, hence --force)"
"$mig" rollback --force demo.mig

say "after the rollback: the new servers are empty, the old ones untouched"
printf '  tables on the new PostgreSQL: '
pg_as_superuser new 25433 -d shop -tA -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
printf '  keys on the new Redis: '
REDISCLI_AUTH=$DEMO_NEW_REDIS_PASSWORD redis-cli -p 26380 --no-auth-warning DBSIZE
printf '  orders on the old PostgreSQL: '
pg_as_superuser old 25432 -d shop -tA -c "SELECT count(*) FROM orders"
sed 's/^/  app.env: /' app.env

say "part 2, online: two more clusters and a PgBouncer in front of the old one; pgbench fills it"
start_postgres online_old 25442 "$DEMO_ONLINE_PG_PASSWORD" fsync=off wal_level=logical
start_postgres online_new 25443 "$DEMO_ONLINE_PG_PASSWORD" fsync=off
pg_as_superuser online_old 25442 -q -c "CREATE DATABASE bank"
pg_as_superuser online_new 25443 -q -c "CREATE DATABASE bank"
"${as_postgres[@]}" pgbench -i -q -s 10 -h "$SERVERS_DIR/pg-online_old" -p 25442 -U postgres bank 2>&1 | tail -1
# Logical replication needs a key or a replica identity on every table;
# pgbench_history has no key, and its rows are only ever inserted.
pg_as_superuser online_old 25442 -d bank -q -c "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
start_pgbouncer online 26432 bank 25442 "$DEMO_ONLINE_PG_PASSWORD" "$DEMO_POOL_PASSWORD"
ln -sf "$SERVERS_DIR/pgbouncer-online/pgbouncer.ini" pgbouncer-demo.ini

say "pgbench writes through PgBouncer (4 clients, 25 s) while mig runs demo_online.mig"
pgbench_out=$(mktemp /tmp/mig-demo-pgbench.XXXXXX)
PGPASSWORD=$DEMO_ONLINE_PG_PASSWORD pgbench -n -c 4 -j 2 -T 25 -h 127.0.0.1 -p 26432 -U postgres bank \
  > "$pgbench_out" 2>&1 &
pgbench_pid=$!
sleep 2
"$mig" run demo_online.mig

say "mig log cutover demo_online.mig   (the switchover, with the writes held)"
"$mig" log cutover demo_online.mig | grep -v '^=='

say "pgbench goes on, now on the new server; its report:"
wait "$pgbench_pid"
pgbench_pid=
grep -E 'processed|failed|latency average|maximum|tps' "$pgbench_out" | sed 's/^/  /'
processed=$(sed -n 's/.*actually processed: \([0-9]*\).*/\1/p' "$pgbench_out")
printf '  transactions pgbench counted: %s; rows in pgbench_history on the new server: ' "$processed"
pg_as_superuser online_new 25443 -d bank -tA -c "SELECT count(*) FROM pgbench_history"
printf '  and on the old one (no write reached it after the cutover): '
pg_as_superuser online_old 25442 -d bank -tA -c "SELECT count(*) FROM pgbench_history"
printf '  the pool now sends its clients to: '
PGPASSWORD=$DEMO_POOL_PASSWORD psql -h 127.0.0.1 -p 26432 -U pgbouncer pgbouncer -tA -F ' ' \
  -c "SHOW DATABASES" | awk '$1 == "bank" { print $2 ":" $3 }'

say "mig rollback --force demo_online.mig"
"$mig" rollback --force demo_online.mig
printf '  the pool sends its clients to: '
PGPASSWORD=$DEMO_POOL_PASSWORD psql -h 127.0.0.1 -p 26432 -U pgbouncer pgbouncer -tA -F ' ' \
  -c "SHOW DATABASES" | awk '$1 == "bank" { print $2 ":" $3 }'
printf '  replication left (subscriptions on the new server, slots on the old): '
echo "$(pg_as_superuser online_new 25443 -d bank -tA -c "SELECT count(*) FROM pg_subscription"), $(
  pg_as_superuser online_old 25442 -d bank -tA -c "SELECT count(*) FROM pg_replication_slots")"

say "done: the demo's servers are being stopped"
