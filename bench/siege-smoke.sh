#!/usr/bin/env bash
# Siege smoke test (the seed's availability target): starts the server on a free port with a small config, runs
#   siege -b -c 25 -t 20S http://127.0.0.1:PORT/
# and fails (exit 1) when availability is below 99.5 %. Prints the figure either way.
#
# Environment: SIEGE_TIME (default 20S), SIEGE_CONCURRENCY (default 25), SIEGE_MIN (default 99.5),
# SIEGE_CONNECTION (keep-alive or close, default keep-alive), LOCALHOST_MAIN (the server's main.js; default
# dist/main.js, else build/src/main.js).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TIME="${SIEGE_TIME:-20S}"
CONC="${SIEGE_CONCURRENCY:-25}"
MIN="${SIEGE_MIN:-99.5}"
CONNECTION="${SIEGE_CONNECTION:-keep-alive}"
MAIN="${LOCALHOST_MAIN:-}"
if [ -z "$MAIN" ]; then
  if [ -f "$ROOT/dist/main.js" ]; then MAIN="$ROOT/dist/main.js"; else MAIN="$ROOT/build/src/main.js"; fi
fi
command -v siege >/dev/null 2>&1 || { echo "siege-smoke: siege is not installed (apt-get install siege)" >&2; exit 2; }
[ -f "$MAIN" ] || { echo "siege-smoke: $MAIN not found: build first (npm run build)" >&2; exit 2; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/siege-smoke.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"

mkdir -p "$TMP/www"
printf '<!DOCTYPE html>\n<html><head><title>siege</title></head><body><h1>siege smoke</h1></body></html>\n' >"$TMP/www/index.html"
cat >"$TMP/server.conf" <<EOF
server {
  host 127.0.0.1
  port $PORT
  keepalive_timeout 30s
  location / {
    methods GET
    root $TMP/www
    default_file index.html
  }
}
EOF

# A private siegerc: no dependence on ~/.siege, no log file, no HTML parsing (siege would fetch linked assets).
cat >"$TMP/siegerc" <<EOF
verbose = false
quiet = false
json_output = true
show-logfile = false
logging = false
parser = false
protocol = HTTP/1.1
connection = $CONNECTION
accept-encoding = identity
failures = 1000000
EOF

node "$MAIN" "$TMP/server.conf" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$TMP/server.log" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "siege-smoke: server exited:" >&2; cat "$TMP/server.log" >&2; exit 1; }
  sleep 0.1
done
grep -q '^listening on ' "$TMP/server.log" || { echo "siege-smoke: server did not start" >&2; cat "$TMP/server.log" >&2; exit 1; }

URL="http://127.0.0.1:$PORT/"
echo "siege-smoke: siege -b -c $CONC -t $TIME $URL (connection: $CONNECTION)"
# siege itself can hang at the end of a timed run (seen with `connection = close` once the ephemeral ports are
# exhausted): bound it by the run time plus a margin, and treat a hang as a failure of the smoke test.
case "$TIME" in
  *[sS]) SECS=${TIME%?} ;;
  *[mM]) SECS=$(( ${TIME%?} * 60 )) ;;
  *[hH]) SECS=$(( ${TIME%?} * 3600 )) ;;
  *) SECS=$TIME ;;
esac
# HOME points at the temp dir so siege never creates or reads ~/.siege.
set +e
HOME="$TMP" timeout -s KILL $(( SECS + 30 )) siege -R "$TMP/siegerc" --no-parser -b -c "$CONC" -t "$TIME" "$URL" \
  >"$TMP/siege.out" 2>"$TMP/siege.err"
SIEGE_RC=$?
set -e
if [ "$SIEGE_RC" = 137 ]; then
  echo "siege-smoke: siege did not finish within $(( SECS + 30 )) s" >&2
  exit 1
fi

# The figures: JSON on stdout ("availability": 100.00), or the text report on stderr ("Availability: 100.00 %").
figure() { # figure NAME: the number after NAME in siege's report
  local v
  v="$(grep -ioE "\"$1\":[[:space:]]*[0-9.]+" "$TMP/siege.out" | head -n1 | grep -oE '[0-9.]+$' || true)"
  [ -n "$v" ] || v="$(grep -ioE "^$1:[[:space:]]+[0-9.]+" "$TMP/siege.err" "$TMP/siege.out" | head -n1 | grep -oE '[0-9.]+$' || true)"
  echo "$v"
}
AVAIL="$(figure availability)"
TRANS="$(figure transactions)"
FAILED="$(figure failed_transactions)"
[ -n "$FAILED" ] || FAILED="$(figure 'failed transactions')"

if [ -z "$AVAIL" ] || [ -z "$TRANS" ]; then
  echo "siege-smoke: could not read siege's report (siege exit $SIEGE_RC)" >&2
  cat "$TMP/siege.out" "$TMP/siege.err" >&2
  exit 1
fi
echo "siege-smoke: availability $AVAIL % over $TRANS transactions (failed: ${FAILED:-?}), minimum $MIN %"
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "siege-smoke: the server died during the run" >&2
  cat "$TMP/server.log" >&2
  exit 1
fi
if awk -v a="$AVAIL" -v t="$TRANS" -v m="$MIN" 'BEGIN { exit !(t > 0 && a >= m) }'; then
  echo "siege-smoke: OK"
  exit 0
fi
echo "siege-smoke: FAIL (availability below $MIN %)" >&2
tail -n 20 "$TMP/server.log" >&2
exit 1
