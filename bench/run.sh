#!/usr/bin/env bash
# `npm run bench`: makes sure nginx, lighttpd, wrk, python3, php-fpm and redis-server are installed (apt-get as root), builds, then runs the
# side-by-side benchmark. Extra arguments go to bench/bench.mjs (--duration S --repeat N --only a,b --out FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for pair in nginx:nginx lighttpd:lighttpd wrk:wrk taskset:util-linux python3:python3 curl:curl pgrep:procps php-fpm8.2:php-fpm redis-server:redis-server; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "bench: install these first: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
# 10,000 idle connections need descriptors for each server and the client.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ -f dist/main.js ] || npx tsc -p tsconfig.json
npx tsc -p tsconfig.json
exec node bench/bench.mjs "$@"
