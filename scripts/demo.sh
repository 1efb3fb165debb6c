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

work=$(mktemp -d /tmp/mig-demo.XXXXXX)
chmod 755 "$work"
pg_bin=/usr/lib/postgresql/15/bin
as_postgres=()
[[ $(id -u) -eq 0 ]] && as_postgres=(runuser -u postgres --)

export DEMO_OLD_PG_PASSWORD="old-pg-$RANDOM$RANDOM"
export DEMO_NEW_PG_PASSWORD="new-pg-$RANDOM$RANDOM"
export DEMO_OLD_REDIS_PASSWORD="old-redis-$RANDOM$RANDOM"
export DEMO_NEW_REDIS_PASSWORD="new-redis-$RANDOM$RANDOM"

stop_all() {
  for cluster in "$work"/pg-*; do
    [[ -d "$cluster" ]] && "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$cluster" -m immediate stop >/dev/null 2>&1 || true
  done
  for pidfile in "$work"/redis-*.pid; do
    [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -rf "$work" "$root/examples/.mig" "$root/examples/app.env" "$root/examples/demo-shop-final.dump"
}
trap stop_all EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_postgres() {  # name port password
  local name=$1 port=$2 password=$3 dir="$work/pg-$1"
  port_free "$port" || { echo "demo: port $port is in use; stop what uses it and try again" >&2; exit 1; }
  mkdir -p "$dir"
  printf '%s\n' "$password" > "$work/pw-$name"
  chown -R postgres "$dir" "$work/pw-$name" 2>/dev/null || true
  "${as_postgres[@]}" "$pg_bin/initdb" --pgdata="$dir" --username=postgres --pwfile="$work/pw-$name" \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >/dev/null
  rm -f "$work/pw-$name"
  # Only this machine may connect: the ACL the plan declares and verifies.
  printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$dir/pg_hba.conf"
  "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
  "${as_postgres[@]}" psql -h "$dir" -p "$port" -U postgres -q -c "CREATE DATABASE shop"
}

start_redis() {  # name port password
  local name=$1 port=$2 password=$3
  port_free "$port" || { echo "demo: port $port is in use; stop what uses it and try again" >&2; exit 1; }
  mkdir -p "$work/redis-$name"
  printf 'port %s\nbind 127.0.0.1\nrequirepass %s\nsave ""\nappendonly no\ndir %s\ndaemonize yes\npidfile %s\nlogfile %s\n' \
    "$port" "$password" "$work/redis-$name" "$work/redis-$name.pid" "$work/redis-$name/server.log" \
    > "$work/redis-$name/redis.conf"
  redis-server "$work/redis-$name/redis.conf"
  for _ in $(seq 50); do
    REDISCLI_AUTH=$password redis-cli -p "$port" --no-auth-warning PING 2>/dev/null | grep -q PONG && return
    sleep 0.1
  done
  echo "demo: redis on port $port did not start" >&2
  exit 1
}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting two PostgreSQL clusters and two Redis servers on this machine"
start_postgres old 55432 "$DEMO_OLD_PG_PASSWORD"
start_postgres new 55433 "$DEMO_NEW_PG_PASSWORD"
start_redis old 56379 "$DEMO_OLD_REDIS_PASSWORD"
start_redis new 56380 "$DEMO_NEW_REDIS_PASSWORD"

say "filling the old ones with a shop: customers, products, orders; sessions and carts"
"${as_postgres[@]}" psql -h "$work/pg-old" -p 55432 -U postgres -d shop -q -v ON_ERROR_STOP=1 <<'SQL'
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
SQL
{
  for i in $(seq 1 500); do
    echo "HSET session:$i user $((i % 2000)) cart cart:$i"
    echo "EXPIRE session:$i 3600"
    echo "RPUSH cart:$i product:$((i % 200)) product:$(((i * 3) % 200))"
  done
  echo "ZADD bestsellers 120 product:7 95 product:42 80 product:13"
  echo "SET visits 123456"
} | REDISCLI_AUTH=$DEMO_OLD_REDIS_PASSWORD redis-cli -p 56379 --no-auth-warning >/dev/null

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
"${as_postgres[@]}" psql -h "$work/pg-new" -p 55433 -U postgres -d shop -tA -c "SELECT count(*) FROM orders"
printf '  keys on the new Redis: '
REDISCLI_AUTH=$DEMO_NEW_REDIS_PASSWORD redis-cli -p 56380 --no-auth-warning DBSIZE
sed 's/^/  app.env: /' app.env

say "mig rollback --force demo.mig   (switchover is done, hence --force)"
"$mig" rollback --force demo.mig

say "after the rollback: the new servers are empty, the old ones untouched"
printf '  tables on the new PostgreSQL: '
"${as_postgres[@]}" psql -h "$work/pg-new" -p 55433 -U postgres -d shop -tA \
  -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
printf '  keys on the new Redis: '
REDISCLI_AUTH=$DEMO_NEW_REDIS_PASSWORD redis-cli -p 56380 --no-auth-warning DBSIZE
printf '  orders on the old PostgreSQL: '
"${as_postgres[@]}" psql -h "$work/pg-old" -p 55432 -U postgres -d shop -tA -c "SELECT count(*) FROM orders"
sed 's/^/  app.env: /' app.env

say "done: the demo's servers are being stopped"
