#!/bin/sh
# Demo worker: one log line per second until SIGTERM. The sleep runs in the
# background and the shell waits for it, so the TERM trap fires at once.
# Any arguments replace the worker loop (e.g. `sleep 100000` for a debug box).
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
version="$(cat /etc/demo-version)"
tick=0
echo "worker ${version} starting (pid $$, host $(hostname))"
trap 'echo "worker ${version}: SIGTERM after ${tick} ticks, exiting"; exit 0' TERM INT
while :; do
    tick=$((tick + 1))
    echo "worker ${version} tick ${tick} $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    sleep 1 &
    wait $!
done
