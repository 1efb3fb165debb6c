# Throwaway PostgreSQL clusters and Redis servers on this machine, for the
# demo and the benchmarks. Source it, set SERVERS_DIR to a folder of its
# own, and call stop_servers when done (a trap is a good place).
#
#   start_postgres NAME PORT PASSWORD [SETTING=VALUE...]
#   start_redis NAME PORT PASSWORD
#   start_pgbouncer NAME PORT POOL BACKEND_PORT USER_PASSWORD ADMIN_PASSWORD
#       # in transaction pooling, pool POOL -> 127.0.0.1:BACKEND_PORT/POOL;
#       # its config is $SERVERS_DIR/pgbouncer-NAME/pgbouncer.ini
#   pg_as_superuser NAME PORT ARGS...   # psql over the cluster's socket
#   stop_servers

pg_bin=/usr/lib/postgresql/15/bin
as_postgres=()
[[ $(id -u) -eq 0 ]] && as_postgres=(runuser -u postgres --)

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_postgres() {
  local name=$1 port=$2 password=$3
  shift 3
  local dir="$SERVERS_DIR/pg-$name"
  port_free "$port" || { echo "port $port is in use; stop what uses it and try again" >&2; return 1; }
  mkdir -p "$dir"
  chmod 755 "$SERVERS_DIR"
  printf '%s\n' "$password" > "$SERVERS_DIR/pw-$name"
  chown -R postgres "$dir" "$SERVERS_DIR/pw-$name" 2>/dev/null || true
  "${as_postgres[@]}" "$pg_bin/initdb" --pgdata="$dir" --username=postgres \
    --pwfile="$SERVERS_DIR/pw-$name" --auth-local=trust --auth-host=scram-sha-256 --no-sync >/dev/null
  rm -f "$SERVERS_DIR/pw-$name"
  # Only this machine may connect.
  printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$dir/pg_hba.conf"
  local options="-c listen_addresses=127.0.0.1 -p $port -k $dir"
  for setting in "$@"; do options+=" -c $setting"; done
  "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -o "$options" start >/dev/null
}

pg_as_superuser() {
  local name=$1 port=$2
  shift 2
  "${as_postgres[@]}" psql -h "$SERVERS_DIR/pg-$name" -p "$port" -U postgres "$@"
}

start_redis() {
  local name=$1 port=$2 password=$3 dir="$SERVERS_DIR/redis-$1"
  port_free "$port" || { echo "port $port is in use; stop what uses it and try again" >&2; return 1; }
  mkdir -p "$dir"
  # The password goes in the config file, never on a command line.
  printf 'port %s\nbind 127.0.0.1\nrequirepass %s\nsave ""\nappendonly no\ndir %s\ndaemonize yes\npidfile %s/pid\nlogfile %s/server.log\n' \
    "$port" "$password" "$dir" "$dir" "$dir" > "$dir/redis.conf"
  redis-server "$dir/redis.conf"
  for _ in $(seq 50); do
    REDISCLI_AUTH=$password redis-cli -p "$port" --no-auth-warning PING 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  echo "redis on port $port did not start" >&2
  return 1
}

start_pgbouncer() {
  local name=$1 port=$2 pool=$3 backend=$4 password=$5 admin_password=$6
  local dir="$SERVERS_DIR/pgbouncer-$name"
  port_free "$port" || { echo "port $port is in use; stop what uses it and try again" >&2; return 1; }
  mkdir -p "$dir"
  chmod 755 "$SERVERS_DIR"
  # Clients log in as postgres, the admin console's user is pgbouncer; the
  # passwords are in the 0600 auth file only.
  printf '"postgres" "%s"\n"pgbouncer" "%s"\n' "$password" "$admin_password" > "$dir/userlist.txt"
  cat > "$dir/pgbouncer.ini" <<INI
[databases]
$pool = host=127.0.0.1 port=$backend dbname=$pool

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
admin_users = pgbouncer
pool_mode = transaction
max_client_conn = 200
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pid
INI
  chmod 600 "$dir/userlist.txt" "$dir/pgbouncer.ini"
  # PgBouncer refuses to run as root.
  chown -R postgres "$dir" 2>/dev/null || true
  "${as_postgres[@]}" pgbouncer -d "$dir/pgbouncer.ini"
  for _ in $(seq 50); do
    ! port_free "$port" && return 0
    sleep 0.1
  done
  echo "pgbouncer on port $port did not start: $(tail -3 "$dir/pgbouncer.log")" >&2
  return 1
}

stop_servers() {
  local cluster pidfile
  for cluster in "$SERVERS_DIR"/pg-*; do
    [[ -d $cluster ]] && "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$cluster" -m immediate stop >/dev/null 2>&1
  done
  for pidfile in "$SERVERS_DIR"/redis-*/pid "$SERVERS_DIR"/pgbouncer-*/pid; do
    [[ -f $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  rm -rf "$SERVERS_DIR"
}
