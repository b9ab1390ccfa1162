#!/usr/bin/env bash
# CI job (issue 15): a fresh clone installed where no C compiler is on PATH. The install must succeed with one
# line saying the addon was not built, and the server must start on the portable transport, say so, and serve a
# file and a CGI script.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d)
server_pid=''
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A PATH with everything of the usual directories except compilers.
bin="$work/bin"
mkdir -p "$bin"
for dir in /usr/local/bin /usr/bin /bin; do
  for f in "$dir"/*; do
    name=$(basename "$f")
    case "$name" in
      cc | c++ | gcc | g++ | cpp | clang* | *-gcc | *-gcc-* | *-g++ | *-g++-* | gcc-* | g++-* | tcc) continue ;;
    esac
    [ -e "$bin/$name" ] || ln -s "$f" "$bin/$name"
  done
done
# The Node running this script (it may be the LTS from a temporary prefix) comes first.
ln -sf "$(command -v node)" "$bin/node"
if PATH="$bin" command -v cc >/dev/null 2>&1; then
  echo "no-compiler: cc is still on PATH" >&2
  exit 1
fi

git clone -q --no-hardlinks "$repo" "$work/clone"
cd "$work/clone"
install_log=$(PATH="$bin" npm ci --no-audit --no-fund 2>&1)
echo "$install_log" | grep -F 'localhost: native addon not built (no C compiler (cc)); the server will use the portable transport (node:net)' >/dev/null || {
  echo "no-compiler: the install did not print the fallback line:" >&2
  echo "$install_log" >&2
  exit 1
}
if [ -e native/build/Release/localhost_native.node ]; then
  echo "no-compiler: an addon was built without a compiler?" >&2
  exit 1
fi

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
mkdir -p "$work/www/cgi"
echo 'hello from the portable transport' >"$work/www/index.html"
printf '#!/usr/bin/env python3\nprint("Content-Type: text/plain")\nprint()\nprint("cgi ok")\n' >"$work/www/cgi/hi.py"
chmod +x "$work/www/cgi/hi.py"
cat >"$work/smoke.conf" <<CONF
server {
  listen 127.0.0.1:$port
  location / {
    root $work/www
    default_file index.html
  }
  location /cgi {
    root $work/www/cgi
    cgi .py /usr/bin/python3
  }
}
CONF
env -u LOCALHOST_TRANSPORT PATH="$bin" node dist/main.js "$work/smoke.conf" >"$work/out.txt" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$work/out.txt" && break
  sleep 0.1
done
grep -qx 'transport: node, the portable one (native unavailable: native/build/Release/localhost_native.node not built (npm install builds it when a C compiler is present))' "$work/out.txt" || {
  echo "no-compiler: the server did not say it runs on the portable transport:" >&2
  cat "$work/out.txt" >&2
  exit 1
}
[ "$(curl -s "http://127.0.0.1:$port/")" = 'hello from the portable transport' ]
[ "$(curl -s "http://127.0.0.1:$port/cgi/hi.py")" = 'cgi ok' ]
echo "no-compiler: install fell back, the server said so and served a file and a CGI script"
