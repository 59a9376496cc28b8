# shellcheck shell=bash
# Part of scripts/stack, sourced by it: small helpers for processes, logs,
# readiness polling and parallel runs.

# ---------------------------------------------------------------- helpers

usage() {
    cat <<EOF
usage: ${0##*/} VERB   (stack directory: $DIR)
  up               start every missing part, build/push demo images, deploy the demo
  down [--purge]   stop every part this script started (--purge: delete the directory too)
  status           one line per part (exit status 1 if any is down), then the ports
  reset            remove every container of the stack's hosts and every etcd key,
                   then deploy the demo afresh (the state of a first \`up\`)
  stop-host NAME   stop the Docker daemon of NAME (${HOSTS[*]})
  start-host NAME  start the Docker daemon of NAME and wait until it answers
  stop-part NAME   stop one service (${PARTS[*]})
  start-part NAME  start one service and wait until it answers
environment: JOBTUI_STACK_DIR (default $DEFAULT_DIR), JOBTUI_STACK_PORT_BASE
  (demo | auto | N, used at the first up only), JOBTUI_STACK_TIMEOUT, JOBTUI_VENV
EOF
}

check_dir() {
    case "$DIR" in
        /*) ;;
        *) die "JOBTUI_STACK_DIR must be an absolute path (got '$DIR')" ;;
    esac
    DIR="${DIR%/}"
    [ -n "$DIR" ] || die "JOBTUI_STACK_DIR must not be /"
    # Unix socket paths are limited to 108 bytes; the longest we create is
    # containerd's $DIR/host-ssh/exec/containerd/containerd.sock.ttrpc.
    local longest="$DIR/host-ssh/exec/containerd/containerd.sock.ttrpc"
    if [ "${#longest}" -gt 100 ]; then
        die "JOBTUI_STACK_DIR '$DIR' is too long for unix sockets (keep it under ~50 chars)"
    fi
}

# curl that never goes through a proxy and never waits long.
hcurl() { curl --noproxy '*' -sf --connect-timeout 2 --max-time 5 "$@"; }

# alive PID: the process exists and is not a zombie (the init of some
# containers never reaps, so a dead daemon can linger as a zombie).
alive() {
    local pid="$1" stat
    [ -n "$pid" ] || return 1
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [ "${stat%% *}" != Z ]
}

# ours PID EXE: alive and running the expected executable (guards pid reuse).
ours() {
    local pid="$1" exe="$2" path
    alive "$pid" || return 1
    path="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
    [ "${path##*/}" = "$exe" ]
}

read_pid() {
    if [ -f "$1" ]; then tr -dc '0-9' <"$1"; fi
}

# Tail of a log for error reports.
show_log() {
    local log="$1"
    if [ -s "$log" ]; then
        printf -- '----- last 20 lines of %s -----\n' "$log" >&2
        tail -n 20 "$log" >&2
        printf -- '-----\n' >&2
    else
        printf 'stack: (log %s is empty or missing)\n' "$log" >&2
    fi
}

fail_part() {
    local part="$1" why="$2" log="$3"
    printf 'stack: ERROR: %s failed to start: %s\n' "$part" "$why" >&2
    show_log "$log"
    exit 1
}

# Start a command in the background, detached from this shell, with no
# proxy settings (every peer is on loopback). Prints the pid.
spawn() {
    local log="$1"
    shift
    local unset_args=() v
    for v in "${PROXY_VARS[@]}"; do unset_args+=(-u "$v"); done
    # fd 9 is our lock: the long-lived child must not hold it.
    env "${unset_args[@]}" setsid nohup "$@" >>"$log" 2>&1 </dev/null 9>&- &
    echo "$!"
}

# wait_ready PART PID LOG CHECK...: poll CHECK until it succeeds, the
# process dies, or the deadline passes.
wait_ready() {
    local part="$1" pid="$2" log="$3"
    shift 3
    local deadline=$((SECONDS + TIMEOUT))
    while :; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if ! alive "$pid"; then
            fail_part "$part" "process $pid exited" "$log"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail_part "$part" "not ready after ${TIMEOUT}s (pid $pid still running)" "$log"
        fi
        sleep 0.1
    done
}

# stop_pid PART PID EXE: SIGTERM, poll until gone, then SIGKILL.
stop_pid() {
    local part="$1" pid="$2" exe="$3"
    if ! ours "$pid" "$exe"; then
        return 1
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while alive "$pid"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "$part: pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            local kdeadline=$((SECONDS + 10))
            while alive "$pid"; do
                [ "$SECONDS" -lt "$kdeadline" ] || die "$part: pid $pid survived SIGKILL"
                sleep 0.1
            done
            break
        fi
        sleep 0.1
    done
    return 0
}

# children PID: the pids whose parent is PID.
children() {
    local stat rest pid
    for stat in /proc/[0-9]*/stat; do
        rest="$(cat "$stat" 2>/dev/null)" || continue
        rest="${rest##*) }"
        rest="${rest#* }"
        pid="${stat%/stat}"
        if [ "${rest%% *}" = "$1" ]; then echo "${pid#/proc/}"; fi
    done
    return 0
}

# Run FUNCTION ARG for each ARG at once; each reports into its own file,
# shown in order. Fails when any of them failed.
parallel() {
    local fn="$1" a failed=0
    shift
    local -A pids=()
    mkdir -p "$DIR/.out"
    for a in "$@"; do
        "$fn" "$a" >"$DIR/.out/$fn-$a" 2>&1 &
        pids[$a]=$!
    done
    for a in "$@"; do
        wait "${pids[$a]}" || failed=1
        cat "$DIR/.out/$fn-$a"
        rm -f "$DIR/.out/$fn-$a"
    done
    return "$failed"
}
