#!/usr/bin/env bash
# Run the demo: a multi-tenant chat on http://localhost:8000 (PORT=8001 scripts/demo.sh for
# another port), with tenants on http://alpha.localhost:8000 and http://beta.localhost:8000
# (browsers resolve *.localhost themselves) and the status page on /socket.io/status.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
port="${PORT:-8000}"
echo "demo: http://localhost:$port  tenants: http://alpha.localhost:$port" \
  "http://beta.localhost:$port  status: http://localhost:$port/socket.io/status"
exec .venv/bin/python -m uvicorn app:app --app-dir examples/demo --host 127.0.0.1 --port "$port"
