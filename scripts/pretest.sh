#!/usr/bin/env bash
# Runs before `npm test`: makes sure the system tools the tests drive are installed (installing them with apt-get
# when running as root, otherwise saying exactly what to install), then compiles the tests into build/.
set -euo pipefail
cd "$(dirname "$0")/.."

# command → Debian package
declare -A NEED=(
  [siege]=siege
  [php-cgi]=php-cgi
  [curl]=curl
  [openssl]=openssl
  [python3]=python3
  [ps]=procps
  [ss]=iproute2
  [nginx]=nginx
  [slowhttptest]=slowhttptest
  [chromium]=chromium
  [htpasswd]=apache2-utils
  [redis-server]=redis-server
  [haproxy]=haproxy
  [jq]=jq
  [promtool]=prometheus
  [testssl]=testssl.sh
  [systemd-analyze]=systemd
  [logrotate]=logrotate
  # A file rather than a command: Debian's DokuWiki, served by the browser tests.
  [/usr/share/dokuwiki/doku.php]=dokuwiki
)
missing=()
for cmd in "${!NEED[@]}"; do
  if [[ $cmd == /* ]]; then
    [ -e "$cmd" ] || missing+=("${NEED[$cmd]}")
  elif ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/usr/bin/$cmd" ]; then
    missing+=("${NEED[$cmd]}")
  fi
done
# php-fpm's binary carries its PHP version (php-fpm8.2 on Debian 12): any one will do.
compgen -G '/usr/sbin/php-fpm*' >/dev/null || missing+=(php-fpm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pretest: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "pretest: the tests need these Debian packages: ${missing[*]}" >&2
    echo "pretest: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

rm -rf build
npx tsc -p tsconfig.test.json
