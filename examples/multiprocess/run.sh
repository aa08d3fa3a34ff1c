#!/usr/bin/env bash
# Three app.py processes behind nginx (sticky sessions), sharing a throw-away Redis.
#
#   ./run.sh            then open http://localhost:8080/ and http://alpha.localhost:8080/
#
# Needs redis-server, nginx and a Python with dynamic-io-asgi, uvicorn and redis installed
# (PYTHON; default: the project's .venv/bin/python, made by scripts/bootstrap.sh, else
# python3). Ports: PORT (nginx, 8080), REDIS_PORT (6390), APP_PORTS ("8001 8002 8003"). Each process serves its own status page at /socket.io/status.
# Ctrl-C stops everything.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
PORT=${PORT:-8080}
REDIS_PORT=${REDIS_PORT:-6390}
APP_PORTS=${APP_PORTS:-8001 8002 8003}
WORK=$(mktemp -d)
chmod 755 "$WORK"  # nginx workers run as another user when started by root

redis_pid=""
pids=()  # the app processes and nginx
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ ${#pids[@]} -gt 0 ]; then wait "${pids[@]}" 2>/dev/null || true; fi
    # Redis last: the apps would log its loss on their way out.
    if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
    wait
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

wait_for_port() {  # until something accepts connections on 127.0.0.1:$1, for 30 s at most
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "run.sh: nothing listens on 127.0.0.1:$1" >&2
    return 1
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
    >"$WORK/redis.log" &
redis_pid=$!

servers=""
n=0
for app_port in $APP_PORTS; do
    n=$((n + 1))
    # --timeout-graceful-shutdown: uvicorn would otherwise wait for open long-polls.
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" DYNAMIC_IO_NAME="${DYNAMIC_IO_NAME:-node} $n" \
        DYNAMIC_IO_STATUS=1 "$PYTHON" -m uvicorn app:app --app-dir "$HERE" \
        --host 127.0.0.1 --port "$app_port" --log-level warning \
        --timeout-graceful-shutdown 3 &
    pids+=($!)
    servers="$servers server 127.0.0.1:$app_port;"
done

# nginx only once every process listens: a request it could not pass on would mark the
# processes down for 10 s (its fail_timeout), and answer 502 until then.
for app_port in $APP_PORTS; do wait_for_port "$app_port"; done
sed -e "s/__LISTEN__/127.0.0.1:$PORT/" -e "s/__SERVERS__/$servers/" \
    "$HERE/nginx.conf" >"$WORK/nginx.conf"
nginx -p "$WORK" -c "$WORK/nginx.conf" -e stderr \
    -g "daemon off; pid $WORK/nginx.pid; error_log stderr;" &
pids+=($!)

echo "nginx on http://localhost:$PORT/ in front of ports $APP_PORTS (Redis on $REDIS_PORT)"
wait -n  # until Ctrl-C, or until one of them stops
