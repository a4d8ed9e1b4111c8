#!/usr/bin/env bash
# Start a private rsyslogd for the syslog sink tests (pytest -m syslog).
#
#   bash scripts/rsyslog.sh          # idempotent: does nothing if 127.0.0.1:5514 already answers
#   BULLETPROOF_TEST_SYSLOG_DIR=/tmp/x bash scripts/rsyslog.sh
#   bash scripts/rsyslog.sh stop     # stop the instance this script started
#
# Listens on 127.0.0.1:5514 (UDP and TCP) and writes every received message, raw, one per line, to
# $BULLETPROOF_TEST_SYSLOG_DIR/messages.log (default /tmp/bulletproof-rsyslog). Uses its own config
# (scripts/rsyslog.conf), pid file and work directory in that directory, so it never clashes with a
# system rsyslog. Installs Debian's rsyslog with apt-get if rsyslogd is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
conf="$here/rsyslog.conf"
export BULLETPROOF_TEST_SYSLOG_DIR="${BULLETPROOF_TEST_SYSLOG_DIR:-/tmp/bulletproof-rsyslog}"
dir="$BULLETPROOF_TEST_SYSLOG_DIR"
pidfile="$dir/rsyslogd.pid"
rsyslogd=/usr/sbin/rsyslogd

answers() {
  # True when something accepts TCP connections on 127.0.0.1:5514.
  (exec 3<>/dev/tcp/127.0.0.1/5514) 2>/dev/null
}

if [[ "${1:-}" == "stop" ]]; then
  if [[ -s "$pidfile" ]]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    echo "rsyslog.sh: stopped the test rsyslogd"
  else
    echo "rsyslog.sh: no pid file at $pidfile; nothing to stop"
  fi
  exit 0
fi

if answers; then
  echo "rsyslog.sh: 127.0.0.1:5514 already answers; output goes to $dir/messages.log"
  exit 0
fi

if [[ ! -x "$rsyslogd" ]]; then
  echo "rsyslog.sh: $rsyslogd not found; installing rsyslog" >&2
  if [[ "$(id -u)" -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq rsyslog
fi

mkdir -p "$dir/work"
# A stale pid file from an instance that died would make rsyslogd refuse to start.
if [[ -s "$pidfile" ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  rm -f "$pidfile"
fi

"$rsyslogd" -N1 -f "$conf" >"$dir/check.log" 2>&1 || {
  echo "rsyslog.sh: $conf does not validate:" >&2
  cat "$dir/check.log" >&2
  exit 1
}
# Daemon mode: rsyslogd forks and writes its pid to $pidfile.
"$rsyslogd" -f "$conf" -i "$pidfile" >"$dir/rsyslogd.log" 2>&1

for _ in $(seq 1 100); do
  if answers; then
    echo "rsyslog.sh: rsyslogd (pid $(cat "$pidfile" 2>/dev/null || echo '?')) listens on" \
      "127.0.0.1:5514 (UDP, TCP); output goes to $dir/messages.log"
    exit 0
  fi
  sleep 0.1
done
echo "rsyslog.sh: rsyslogd did not start listening on 127.0.0.1:5514 within 10 s:" >&2
cat "$dir/rsyslogd.log" >&2 || true
exit 1
