#!/usr/bin/env bash
# Serve the documentation site (MkDocs + Material, the API reference from the docstrings)
# on http://127.0.0.1:8001, rebuilt on every change (PORT=8002 scripts/docs.sh for another
# port). `.venv/bin/mkdocs build --strict` builds it into site/ instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/mkdocs serve -a "127.0.0.1:${PORT:-8001}"
