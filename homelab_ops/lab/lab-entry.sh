#!/bin/sh
# Stand-in for a homelab service: serve /www over HTTP until stopped.
# A shell as PID 1 ignores SIGTERM unless it traps it, so stopping would take 10 s.
trap 'exit 0' TERM INT
[ -f /www/index.html ] || echo "homelab-lab $(hostname)" > /www/index.html
httpd -f -p "${LAB_HTTP_PORT:-80}" -h /www &
wait
