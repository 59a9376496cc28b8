#!/bin/sh
# Entrypoint of demo/web:broken: a release that cannot start. Rollouts to
# this tag must fail their health gate and leave the old version serving.
echo "web broken: fatal: cannot load configuration /etc/web.conf: no such file" >&2
exit 1
