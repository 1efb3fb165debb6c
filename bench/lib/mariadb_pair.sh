# Two throwaway MariaDB servers for the MySQL benchmarks (source and
# target), started as tests/harness/servers.cpp (MariaDbServer::start)
# starts them, each with a random root password, out of a temporary folder
# removed on exit. Source it after setting SOURCE_PORT, TARGET_PORT,
# BUFFER_POOL (e.g. 128M) and BENCH (the script's name, for messages).
# Gives: $work, $options (the 0600 option file: [client-source] and
# [client-target] hold the root passwords, the groups mig reads from
# MIG_OPTION_FILE), start_server NAME PORT, src/tgt (the mysql client on
# either, over TCP to 127.0.0.1, password from $options), client PROGRAM
# NAME (the argv prefix for any MySQL client of the server NAME), now.
#
# Passwords never reach a command line: they go to the servers over their
# socket on standard input, and to the clients through $options.

work=$(mktemp -d "/tmp/mig-${BENCH%.sh}.XXXXXX")
options=$work/client.cnf
as_mysql=()
if [[ $(id -u) -eq 0 ]]; then
  # mariadbd refuses to run as root: it runs as mysql, which must reach its
  # data folder through $work (the option file stays 0600, root's).
  id mysql >/dev/null 2>&1 || { echo "$BENCH: no mysql user to run MariaDB as" >&2; exit 2; }
  as_mysql=(--user=mysql)
  chmod 711 "$work"
fi
(umask 077 && : >"$options")

stop_servers() {
  local name pid
  for name in source target; do
    [[ -f $work/$name/pid ]] || continue
    pid=$(cat "$work/$name/pid")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap stop_servers EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server NAME PORT: a fresh data folder, the server on 127.0.0.1:PORT
# (and a socket in its folder), root's password set, and a [client-NAME]
# group with it in $options.
start_server() {
  local name=$1 port=$2 dir=$work/$1 password
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  port_free "$port" || { echo "$BENCH: port $port is in use (set PORT)" >&2; exit 2; }
  mkdir -p "$dir/tmp"
  [[ ${#as_mysql[@]} -gt 0 ]] && chown -R mysql: "$dir"
  mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve "${as_mysql[@]}" >"$dir/install.log" 2>&1 ||
    { echo "$BENCH: mariadb-install-db failed:" >&2; grep -i -m 10 error "$dir/install.log" >&2; exit 1; }
  mariadbd --no-defaults --datadir="$dir/data" --bind-address=127.0.0.1 --port="$port" \
    --socket="$dir/sock" --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" --tmpdir="$dir/tmp" \
    --skip-name-resolve --skip-log-bin --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
    --innodb-buffer-pool-size="$BUFFER_POOL" --max-connections=60 --event-scheduler=OFF \
    "${as_mysql[@]}" >"$dir/mysqld.out" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 600); do
    if [[ -S $dir/sock ]] &&
      mariadb-admin --no-defaults --socket="$dir/sock" --user=root --connect-timeout=2 ping \
        >/dev/null 2>&1; then
      break
    fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null ||
      { echo "$BENCH: mariadbd $name exited; see below" >&2; tail "$dir/error.log" >&2; exit 1; }
    sleep 0.1
  done
  # The fresh server lets root in over the socket without a password: root
  # gets its password on the loopback accounts, TCP included.
  mariadb --no-defaults --socket="$dir/sock" --user=root --batch <<SQL ||
DELETE FROM mysql.global_priv WHERE User <> 'mariadb.sys' AND NOT (User = 'root' AND
  Host IN ('localhost', '127.0.0.1', '::1'));
FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$password';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$password';
SQL
    { echo "$BENCH: cannot set root's password on $name" >&2; exit 1; }
  printf '[client-%s]\npassword=%s\n' "$name" "$password" >>"$options"
}

# client PROGRAM NAME: the words that start PROGRAM (mysql, mysqldump...)
# on the server NAME as mig starts its clients (runtime/drivers/
# mysql_client.cpp, Endpoint::clientCommand): the option file first, the
# group suffix, TCP to 127.0.0.1, user root.
client() {
  local program=$1 name=$2 port
  [[ $name == source ]] && port=$SOURCE_PORT || port=$TARGET_PORT
  printf '%s\n' "$program" "--defaults-extra-file=$options" "--defaults-group-suffix=-$name" \
    --host=127.0.0.1 "--port=$port" --user=root
}

src() { local argv; mapfile -t argv < <(client mysql source); "${argv[@]}" --batch --skip-column-names "$@"; }
tgt() { local argv; mapfile -t argv < <(client mysql target); "${argv[@]}" --batch --skip-column-names "$@"; }
now() { date +%s.%N; }
