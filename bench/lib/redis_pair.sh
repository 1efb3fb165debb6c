# Two throwaway redis-server processes for the Redis benchmarks (source and
# target), with random passwords, out of a temporary folder removed on exit.
# Source it after setting SOURCE_PORT, TARGET_PORT, REPL_DISKLESS_LOAD and
# REPL_DISKLESS_SYNC_DELAY, and BENCH (the script's name, for messages).
# Gives: $work, $source_password, $target_password, start_server NAME PORT
# PASSWORD, src/tgt (redis-cli on either), now.

work=$(mktemp -d "/tmp/mig-${BENCH%.sh}.XXXXXX")
source_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
target_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')

stop_servers() {
  for name in source target; do
    if [[ -f $work/$name/pid ]]; then
      kill "$(cat "$work/$name/pid")" 2>/dev/null || true
    fi
  done
  sleep 0.5
  rm -rf "$work"
}
trap stop_servers EXIT

# start_server NAME PORT PASSWORD: the password goes into the config file,
# never on a command line.
start_server() {
  local name=$1 port=$2 password=$3
  mkdir -p "$work/$name"
  cat >"$work/$name/redis.conf" <<CONF
port $port
bind 127.0.0.1
requirepass $password
dir $work/$name
pidfile $work/$name/pid
logfile $work/$name/log
daemonize yes
save ""
appendonly no
enable-debug-command local
repl-diskless-sync-delay $REPL_DISKLESS_SYNC_DELAY
repl-diskless-load $REPL_DISKLESS_LOAD
CONF
  chmod 600 "$work/$name/redis.conf"
  redis-server "$work/$name/redis.conf"
  for _ in $(seq 100); do
    if REDISCLI_AUTH=$password redis-cli -p "$port" --no-auth-warning PING 2>/dev/null |
      grep -q PONG; then
      return 0
    fi
    sleep 0.1
  done
  echo "$BENCH: redis-server $name did not start; see $work/$name/log" >&2
  exit 1
}

src() { REDISCLI_AUTH=$source_password redis-cli -p "$SOURCE_PORT" --no-auth-warning "$@"; }
tgt() { REDISCLI_AUTH=$target_password redis-cli -p "$TARGET_PORT" --no-auth-warning "$@"; }
now() { date +%s.%N; }
