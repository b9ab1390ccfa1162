#!/usr/bin/env bash
# `npm run stress`: the load half of "never crash, never leak", at full bound, against a fresh build (dist/):
#   availability   siege -b -c 50 -t 60S on / twice, then twice on a static/404/listing/CGI mix    (~4.5 min)
#   soak           1,000,000 keep-alive requests over the mix (1 % CGI), RSS curve every 100k        (~2-4 min)
#   slow-clients   2,000 connections dripping a head byte every 2 s vs client_header_timeout 5s     (~10 s)
#   slow-readers   2,000 slowhttptest -X readers of a 1 MiB file, ours then nginx: RSS growth, return (~1 min)
#   fd-exhaustion  ulimit -n 256, 400 connections, EMFILE handling and recovery                      (~10 s)
#   fuzz-parser    bench/fuzz-parser.mjs, when present
# then prints one summary line per check. Exit 0 when all pass, 1 otherwise.
# Each script also runs alone (`node bench/NAME.mjs`, options in its header); --main or LOCALHOST_MAIN chooses the
# server build. Loads target 127.0.0.1 only and stop by themselves.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in siege:siege python3:python3 slowhttptest:slowhttptest nginx:nginx; do
  cmd=${pair%%:*}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "stress: install these first: sudo apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
fi

# 2,000 slow connections need a descriptor each in the client and in the server (which inherits this limit).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "stress: building dist/"
npx tsc -p tsconfig.json || { echo "stress: build failed" >&2; exit 2; }
MAIN="${LOCALHOST_MAIN:-dist/main.js}"

LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/localhost-stress.XXXXXX")"
declare -a SUMMARY=()
STATUS=0

run() { # run NAME COMMAND...: streams the output, keeps it in $LOGDIR/NAME.log, records the verdict
  local name=$1
  shift
  echo
  echo "=== $name: $*"
  local start=$SECONDS
  "$@" 2>&1 | tee "$LOGDIR/$name.log"
  local rc=${PIPESTATUS[0]}
  local took=$((SECONDS - start))
  if [ "$rc" = 0 ]; then
    SUMMARY+=("PASS  $name (${took} s)")
  else
    STATUS=1
    local why
    why="$(grep -E '^FAIL ' "$LOGDIR/$name.log" | head -n1)"
    SUMMARY+=("FAIL  $name (${took} s, exit $rc) ${why:-see $LOGDIR/$name.log}")
  fi
}

run availability node bench/availability.mjs --main "$MAIN" --time 60S --concurrency 50
run soak node bench/soak.mjs --main "$MAIN" --requests 1000000
run slow-clients node bench/slow-clients.mjs --main "$MAIN" --conns 2000 --timeout 5
run slow-readers node bench/slow-readers.mjs --main "$MAIN" --conns 2000 --length 20 --return 60
run fd-exhaustion node bench/fd-exhaustion.mjs --main "$MAIN" --nofile 256 --conns 400
run accept-burst node bench/accept-burst.mjs --main "$MAIN" --conns 20000 --wait 20 --nginx
if [ -f bench/fuzz-parser.mjs ]; then
  run fuzz-parser node bench/fuzz-parser.mjs
else
  SUMMARY+=("SKIP  fuzz-parser (bench/fuzz-parser.mjs not present)")
fi

echo
echo "=== stress summary (logs in $LOGDIR)"
for line in "${SUMMARY[@]}"; do echo "$line"; done
# The key figures, from each script's RESULT line.
node -e '
const fs = require("fs");
const dir = process.argv[1];
const get = (n) => { try { const l = fs.readFileSync(`${dir}/${n}.log`, "utf8").split("\n").find((x) => x.startsWith("RESULT ")); return l ? JSON.parse(l.slice(7)).figures : null; } catch { return null; } };
const mb = (k) => (k / 1024).toFixed(1);
const a = get("availability");
if (a) for (const [p, ph] of Object.entries(a.phases)) console.log(`availability ${p}: ${ph.runs.map((r) => `${r.availability.toFixed(2)} % of ${r.transactions} (failed ${r.failed}), RSS ${mb(r.rssKiB)} MiB`).join("; ")}`);
const s = get("soak");
if (s) console.log(`soak: ${s.requests} requests in ${s.seconds} s; RSS curve (MiB) ${s.curve.map((c) => mb(c.rssKiB)).join(" ")}; fds ${s.before.fds} -> ${s.after.fds}; children ${s.before.children} -> ${s.after.children}`);
const c = get("slow-clients");
if (c) console.log(`slow-clients: normal GETs p50 ${c.normal.p50Ms.toFixed(2)} ms, p99 ${c.normal.p99Ms.toFixed(2)} ms; slow conns closed after ${c.closeMs.min}-${c.closeMs.max} ms, 408 to ${c.got408}/${c.conns}`);
const r = get("slow-readers");
if (r && r.ours && r.nginx) console.log(`slow-readers: ${r.conns} readers: RSS growth ours ${mb(r.ours.growthKiB)} MiB, nginx ${mb(r.nginx.growthKiB)} MiB; ours after they left ${mb(r.ours.afterKiB)} MiB (before ${mb(r.ours.beforeKiB)} MiB)`);
const f = get("fd-exhaustion");
const b = get("accept-burst");
if (b) for (const side of [b.ours, b.nginx].filter(Boolean)) console.log(`accept-burst ${side.name}: ${side.open} of ${side.total} open, ${side.accepted} accepted, ${side.closed} refused`);
if (f) console.log(`fd-exhaustion: CPU ${f.cpuPct} % at the limit; EMFILE lines ${f.emfileCount}; 500s without a log line: ${f.unexplained500.join(", ") || "none"}; recovered in ${f.recoveredMs} ms`);
' "$LOGDIR"
exit $STATUS
