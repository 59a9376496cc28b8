#!/bin/sh
# Demo web service: busybox httpd on 127.0.0.1:$PORT serving /index.html
# ("web <version>") and /health ("ok"). Runs as PID 1, so it must handle
# SIGTERM itself or `docker stop` would wait for its whole timeout.
port="${PORT:-8080}"
version="$(cat /etc/demo-version)"
echo "web ${version} starting on 127.0.0.1:${port} (pid $$)"
httpd -f -v -p "127.0.0.1:${port}" -h /www &
child=$!
trap 'echo "web ${version}: SIGTERM, stopping"; kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
wait "$child"
rc=$?
echo "web ${version}: httpd exited with status ${rc}" >&2
exit "$rc"
