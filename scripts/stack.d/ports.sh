# shellcheck shell=bash
# Part of scripts/stack, sourced by it: the ports of a stack (a block recorded in
# ports.env, claimed against other stacks) and who holds a port.

# ---------------------------------------------------------------- ports

# The TCP listeners of the machine, by port: "program (pid N)" as far as
# ss can tell. scan_ports takes one snapshot (the checks of a whole verb
# read it); without one, each check asks ss itself.
declare -A LISTENERS=()
SCANNED=0
scan_ports() {
    local port who
    LISTENERS=()
    # One awk over ss: "PORT program (pid N)" per listener.
    while read -r port who; do
        [ -n "${LISTENERS[$port]:-}" ] || LISTENERS[$port]="$who"
    done < <(ss -Hltnp 2>/dev/null | awk '{
        n = split($4, a, ":"); who = "a process ss cannot name (another user or network namespace?)"
        if (match($0, /\(\("[^"]*",pid=[0-9]+/)) {
            m = substr($0, RSTART + 3, RLENGTH - 3); split(m, b, "\",pid=")
            who = b[1] " (pid " b[2] ")"
        }
        print a[n], who
    }')
    SCANNED=1
}

listener_name() {
    if [[ "$1" =~ \(\(\"([^\"]*)\",pid=([0-9]+) ]]; then
        echo "${BASH_REMATCH[1]} (pid ${BASH_REMATCH[2]})"
    else
        echo "a process ss cannot name (another user or network namespace?)"
    fi
}

# listening PORT: something listens on TCP PORT (any address).
listening() {
    if [ "$SCANNED" = 1 ]; then
        [ -n "${LISTENERS[$1]:-}" ]
    else
        [ -n "$(ss -Hltn "( sport = :$1 )" 2>/dev/null)" ]
    fi
}

# holder PORT: who listens on PORT.
holder() {
    if [ "$SCANNED" = 1 ] && [ -n "${LISTENERS[$1]:-}" ]; then
        echo "${LISTENERS[$1]}"
    else
        listener_name "$(ss -Hltnp "( sport = :$1 )" 2>/dev/null | head -n 1)"
    fi
}

port_taken_message() {
    local what="$1" port="$2"
    echo "$what: 127.0.0.1:$port is taken by $(holder "$port")"
}

port_hint() {
    cat >&2 <<EOF
stack: stop that process, or run another stack beside it: JOBTUI_STACK_DIR=/tmp/other-stack
stack: (its ports are chosen free at its first up; JOBTUI_STACK_PORT_BASE=N picks a block)
EOF
}

set_block() {
    local base="$1" k
    PORT_BASE="$base"
    for k in "${PORT_KEYS[@]}"; do
        if [ "$base" = demo ]; then
            PORT[$k]="${DEMO_PORT[$k]}"
        else
            PORT[$k]=$((base + PORT_OFFSET[$k]))
        fi
    done
}

stack_id_of() {
    # The default (demo) directory keeps its historical containerd namespaces.
    if [ "$1" = "$DEFAULT_DIR" ]; then
        echo ""
    else
        printf '%s' "$1" | sha256sum | cut -c1-8
    fi
}

# claimed_elsewhere BASE: another stack directory holds the block BASE.
claimed_elsewhere() {
    local file="$CLAIMS_DIR/$1" owner
    [ -f "$file" ] || return 1
    owner="$(cat "$file")"
    [ "$owner" != "$DIR" ] || return 1
    # A claim whose stack is gone (purged by hand) is stale.
    [ -f "$owner/ports.env" ] && grep -qx "PORT_BASE=$1" "$owner/ports.env"
}

block_busy() {
    [ "$SCANNED" = 1 ] || scan_ports
    local base="$1" k
    for k in "${PORT_KEYS[@]}"; do
        listening $((base + PORT_OFFSET[$k])) && return 0
    done
    return 1
}

write_ports_file() {
    local tmp="$DIR/.ports.env.tmp" k
    {
        echo "# Ports of the stack in $DIR, chosen by scripts/stack at its first up."
        echo "# Delete the stack (scripts/stack down --purge) to choose again."
        echo "STACK_ID=$STACK_ID"
        echo "PORT_BASE=$PORT_BASE"
        for k in "${PORT_KEYS[@]}"; do echo "PORT_${k^^}=${PORT[$k]}"; done
    } >"$tmp"
    mv "$tmp" "$DIR/ports.env"
}

claim_block() {
    mkdir -p "$CLAIMS_DIR"
    printf '%s\n' "$DIR" >"$CLAIMS_DIR/$1"
}

# Pick, claim and record a block (under the claims lock, so two first
# `up`s never take the same one).
choose_ports() {
    local want="${JOBTUI_STACK_PORT_BASE:-}"
    if [ -z "$want" ]; then
        # The demo's directory, and a stack started before ports.env existed
        # (its parts still run on the fixed ports), keep the demo's ports.
        if [ "$DIR" = "$DEFAULT_DIR" ] || legacy_running; then want=demo; else want=auto; fi
    fi
    STACK_ID="$(stack_id_of "$DIR")"
    legacy_running && STACK_ID=""
    mkdir -p "$CLAIMS_DIR"
    exec 8>"$CLAIMS_DIR/.lock"
    flock -w 60 8 || die "could not lock $CLAIMS_DIR/.lock"
    case "$want" in
        demo) set_block demo ;;
        auto)
            local start i base=""
            start=$(($(printf '%s' "$DIR" | cksum | cut -d' ' -f1) % AUTO_BLOCKS))
            for ((i = 0; i < AUTO_BLOCKS; i++)); do
                base=$((AUTO_FIRST + ((start + i) % AUTO_BLOCKS) * BLOCK_SIZE))
                if ! claimed_elsewhere "$base" && ! block_busy "$base"; then break; fi
                base=""
            done
            [ -n "$base" ] || die "no free block of $BLOCK_SIZE ports in $AUTO_FIRST-31999"
            set_block "$base"
            claim_block "$base"
            ;;
        *)
            [[ "$want" =~ ^[0-9]+$ ]] && [ "$want" -ge 1024 ] && [ "$want" -le 65500 ] ||
                die "JOBTUI_STACK_PORT_BASE must be demo, auto or a port 1024-65500 (got '$want')"
            claimed_elsewhere "$want" &&
                die "ports $want-$((want + BLOCK_SIZE - 1)) are claimed by the stack in $(cat "$CLAIMS_DIR/$want")"
            set_block "$want"
            claim_block "$want"
            ;;
    esac
    write_ports_file
    flock -u 8
    exec 8>&-
    say "$(printf '%-13s chose %s for %s (recorded in %s/ports.env)' ports \
        "$([ "$PORT_BASE" = demo ] && echo "the demo's ports" || echo "the block $PORT_BASE-$((PORT_BASE + BLOCK_SIZE - 1))")" \
        "$DIR" "$DIR")"
}

# Some part of this directory runs although it has no ports.env yet.
legacy_running() {
    local f
    for f in "$DIR"/*.pid "$DIR"/host-*/docker.pid; do
        [ -f "$f" ] && alive "$(read_pid "$f")" && return 0
    done
    return 1
}

read_ports_file() {
    local key value k
    STACK_ID=""
    PORT_BASE=""
    while IFS='=' read -r key value; do
        case "$key" in
            '' | '#'*) continue ;;
            STACK_ID) STACK_ID="$value" ;;
            PORT_BASE) PORT_BASE="$value" ;;
            PORT_*)
                k="${key#PORT_}"
                k="${k,,}"
                [[ "$value" =~ ^[0-9]+$ ]] || die "$DIR/ports.env: $key=$value is not a port"
                PORT[$k]="$value"
                ;;
        esac
    done <"$DIR/ports.env"
    PORTS_INCOMPLETE=0
    for k in "${PORT_KEYS[@]}"; do
        [ -z "${PORT[$k]:-}" ] || continue
        # A port added to the script after this stack chose its block.
        case "$PORT_BASE" in
            demo) PORT[$k]="${DEMO_PORT[$k]}" ;;
            [0-9]*) PORT[$k]=$((PORT_BASE + PORT_OFFSET[$k])) ;;
            *) die "$DIR/ports.env lacks PORT_${k^^} (down --purge and up again)" ;;
        esac
        PORTS_INCOMPLETE=1
    done
    local want="${JOBTUI_STACK_PORT_BASE:-}"
    if [ -n "$want" ] && [ "$want" != auto ] && [ "$want" != "$PORT_BASE" ]; then
        die "JOBTUI_STACK_PORT_BASE=$want, but $DIR/ports.env records $PORT_BASE (down --purge to choose again)"
    fi
}

# load_ports create|read: the stack's ports, from ports.env; `create`
# chooses and records them when there is none yet. `read` without a
# ports.env assumes the demo's fixed ports (what every stack used before
# ports.env existed) and returns 1 unless this is the demo's directory or
# some part of it runs.
load_ports() {
    if [ -f "$DIR/ports.env" ]; then
        read_ports_file
        if [ "$1" = create ] && [ "$PORTS_INCOMPLETE" = 1 ]; then write_ports_file; fi
    elif [ "$1" = create ]; then
        choose_ports
    else
        STACK_ID=""
        set_block demo
        derive_addresses
        [ "$DIR" = "$DEFAULT_DIR" ] || legacy_running
        return
    fi
    derive_addresses
}

derive_addresses() {
    REGISTRY_ADDR="127.0.0.1:${PORT[registry]}"
    REGISTRY_AUTH_ADDR="127.0.0.1:${PORT[registry_auth]}"
    ETCD_CLIENT_ADDR="127.0.0.1:${PORT[etcd]}"
    ETCD_PEER_ADDR="127.0.0.1:${PORT[etcd_peer]}"
    PROMETHEUS_ADDR="127.0.0.1:${PORT[prometheus]}"
    CADVISOR_ADDR="127.0.0.1:${PORT[cadvisor]}"
    DOCKER_TLS_ADDR="127.0.0.1:${PORT[docker_tls]}"
    SSHD_ADDR="127.0.0.1:${PORT[sshd]}"
    TLS_DIR="$DIR/tls"
    SSH_DIR="$DIR/ssh"
    SSH_USER="$(id -un)"
    HOST_SSH_URL="ssh://$SSH_USER@$SSHD_ADDR$DIR/host-ssh/docker.sock"
}

# Ports of the parts that are not running and would be started: report
# every one some other process holds, before starting anything.
preflight() {
    local problems=() what k
    scan_ports
    for what in "$@"; do
        case "$what" in
            host-tls) host_running host-tls || ! listening "${PORT[docker_tls]}" ||
                problems+=("$(port_taken_message "host-tls (dockerd)" "${PORT[docker_tls]}")") ;;
            host-*) ;;
            *)
                part_running "$what" && continue
                for k in $(part_port_keys "$what"); do
                    listening "${PORT[$k]}" &&
                        problems+=("$(port_taken_message "$what" "${PORT[$k]}")")
                done
                ;;
        esac
    done
    SCANNED=0 # later checks (a demo service's port) ask ss afresh
    [ "${#problems[@]}" -eq 0 ] && return 0
    for what in "${problems[@]}"; do printf 'stack: ERROR: %s\n' "$what" >&2; done
    port_hint
    exit 1
}
