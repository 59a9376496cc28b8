# shellcheck shell=bash
# Part of scripts/stack, sourced by it: Debian packages, the Docker daemons ("hosts")
# and the services (registries, etcd, Prometheus, sshd, the cAdvisor stand-in).

# ---------------------------------------------------------------- packages

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

ensure_packages() {
    local missing=() p
    local -A installed=()
    while read -r p; do installed[$p]=1; done < <(
        dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null |
            awk '$2 == "install" && $3 == "ok" && $4 == "installed" { print $1 }'
    )
    for p in "${PACKAGES[@]}"; do
        [ -n "${installed[$p]:-}" ] || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}) and not root to install them"
    say "installing missing packages: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"
    for p in "${PACKAGES[@]}"; do
        pkg_installed "$p" || die "package $p is still not installed"
    done
}

pick_docker_cli() {
    # The docker.io package's CLI matches the 20.10 daemon and has the
    # classic builder; another client on PATH may need buildx.
    if [ -x /usr/bin/docker ]; then
        DOCKER_CLI=/usr/bin/docker
    else
        DOCKER_CLI="$(command -v docker)" || die "no docker CLI found"
    fi
    export DOCKER_CONFIG="$DIR/docker-cli"
    mkdir -p "$DOCKER_CONFIG"
}

# dk HOST ARGS...: the docker CLI against one of our daemons.
dk() {
    local host="$1"
    shift
    if [ "$host" = host-tls ]; then
        "$DOCKER_CLI" --tlsverify --tlscacert "$TLS_DIR/client/ca.pem" \
            --tlscert "$TLS_DIR/client/cert.pem" --tlskey "$TLS_DIR/client/key.pem" \
            -H "tcp://$DOCKER_TLS_ADDR" "$@"
    else
        "$DOCKER_CLI" -H "unix://$DIR/$host/docker.sock" "$@"
    fi
}

# ---------------------------------------------------------------- docker hosts

host_dir() { echo "$DIR/$1"; }
host_pid() { read_pid "$DIR/$1/docker.pid"; }
host_url() {
    case "$1" in
        host-tls) echo "tcp://$DOCKER_TLS_ADDR" ;;
        *) echo "unix://$DIR/$1/docker.sock" ;;
    esac
}
host_ping() {
    if [ "$1" = host-tls ]; then
        [ "$(hcurl --cacert "$TLS_DIR/client/ca.pem" --cert "$TLS_DIR/client/cert.pem" \
            --key "$TLS_DIR/client/key.pem" "https://$DOCKER_TLS_ADDR/_ping")" = OK ]
    else
        [ "$(hcurl --unix-socket "$DIR/$1/docker.sock" http://localhost/_ping)" = OK ]
    fi
}
host_running() { ours "$(host_pid "$1")" dockerd; }
host_up() { host_running "$1" && host_ping "$1"; }

check_host_name() {
    local h
    for h in "${HOSTS[@]}"; do
        [ "$h" = "${1:-}" ] && return 0
    done
    die "unknown host '${1:-}' (known: ${HOSTS[*]})"
}

# Start the daemon of a host if it is not running; prints the pid to wait on.
launch_host() {
    local h="$1" d="$DIR/$1" pid
    pid="$(host_pid "$h")"
    if ours "$pid" dockerd; then
        echo "$pid"
        return 0
    fi
    if host_ping "$h"; then
        die "$h answers on $(host_url "$h") but its pidfile names no live dockerd: stop it by hand"
    fi
    # A stale pidfile (dead or reused pid) would make dockerd refuse to start.
    rm -f "$d/docker.pid" "$d/docker.sock"
    mkdir -p "$d/data" "$d/exec"
    # Own config file (never /etc/docker/daemon.json) and own identity key.
    printf '{\n  "deprecated-key-path": "%s"\n}\n' "$d/key.json" >"$d/daemon.json"
    local ns="jobtui-${STACK_ID:+$STACK_ID-}$h"
    local args=(
        --config-file "$d/daemon.json"
        --data-root "$d/data"
        --exec-root "$d/exec"
        --pidfile "$d/docker.pid"
        --bridge=none
        --iptables=false
        --ip-forward=false
        --ip-masq=false
        # Own containerd namespaces, distinct per stack: if a system
        # containerd is running, dockerd uses it instead of starting its
        # own, and no two daemons (of any stack, or the system's) may share one.
        --containerd-namespace "$ns"
        --containerd-plugins-namespace "$ns-plugins"
    )
    if [ "$h" = host-tls ]; then
        # TLS only: no unix socket; clients must present a certificate of our CA.
        args+=(-H "tcp://$DOCKER_TLS_ADDR" --tlsverify
            --tlscacert "$TLS_DIR/server/ca.pem" --tlscert "$TLS_DIR/server/cert.pem"
            --tlskey "$TLS_DIR/server/key.pem")
    else
        args+=(-H "unix://$d/docker.sock")
    fi
    if dockerd --help 2>&1 | grep -q -- '--ip6tables'; then
        args+=(--ip6tables=false)
    fi
    echo "=== $(date -u +%FT%TZ) scripts/stack starting dockerd" >>"$d/dockerd.log"
    # containerd writes its stack dumps (and other scratch files) to TMPDIR.
    mkdir -p "$d/tmp"
    spawn "$d/dockerd.log" env TMPDIR="$d/tmp" dockerd "${args[@]}"
}

# launch_all PART_OR_HOST...: start every one that is not running, then wait
# for all of them (daemons and services come up in parallel).
launch_all() {
    local w pid was
    local -A pids=() state=()
    for w in "$@"; do
        case "$w" in
            host-*)
                if host_up "$w"; then
                    state[$w]="up (already running, pid $(host_pid "$w"))"
                    continue
                fi
                was="$(host_pid "$w")"
                pids[$w]="$(launch_host "$w")"
                if [ "${pids[$w]}" = "$was" ]; then
                    state[$w]="up (was starting, pid $was)"
                else
                    state[$w]="started (pid ${pids[$w]})"
                fi
                ;;
            *)
                pid="$(read_pid "$DIR/$w.pid")"
                if part_running "$w"; then
                    pids[$w]="$pid"
                    state[$w]="up (already running, pid $pid)"
                    continue
                fi
                part_prepare "$w"
                part_cmd "$w"
                echo "=== $(date -u +%FT%TZ) scripts/stack starting $w" >>"$DIR/$w.log"
                pid="$(spawn "$DIR/$w.log" "${CMD[@]}")"
                echo "$pid" >"$DIR/$w.pid"
                pids[$w]="$pid"
                state[$w]="started (pid $pid)"
                ;;
        esac
    done
    for w in "$@"; do
        case "$w" in
            host-*)
                if [ -n "${pids[$w]:-}" ]; then
                    wait_ready "$w (dockerd)" "${pids[$w]}" "$DIR/$w/dockerd.log" host_ping "$w"
                fi
                say "$(printf '%-13s %s  %s' "$w" "${state[$w]}" "$(host_url "$w")")"
                ;;
            *)
                wait_ready "$w" "${pids[$w]}" "$DIR/$w.log" part_ready "$w"
                say "$(printf '%-13s %s  %s' "$w" "${state[$w]}" "$(part_where "$w")")"
                ;;
        esac
    done
}

stop_host() {
    local h="$1" pid
    pid="$(host_pid "$h")"
    if stop_pid "$h" "$pid" dockerd; then
        say "$(printf '%-13s stopped (pid %s)' "$h" "$pid")"
    else
        say "$(printf '%-13s not running' "$h")"
    fi
    # dockerd stops the containerd it started; if it was killed, stop that
    # containerd too (it is ours: its pidfile is under our exec root).
    local cpid
    cpid="$(read_pid "$DIR/$h/exec/containerd/containerd.pid")"
    if stop_pid "$h (containerd)" "$cpid" containerd; then
        say "$(printf '%-13s stopped its leftover containerd (pid %s)' "$h" "$cpid")"
    fi
    rm -f "$DIR/$h/docker.pid"
    # dockerd leaves its network namespace mounted under the exec root.
    host_ping "$h" || umount_under "$DIR/$h/"
}

# umount_under PREFIX: lazily unmount everything mounted below PREFIX.
umount_under() {
    local m
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v d="$1" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
}

# ---------------------------------------------------------------- services

registry_ready() { hcurl "http://$REGISTRY_ADDR/v2/" >/dev/null; }
# The auth registry answers 401 with an htpasswd challenge until one logs in.
registry_auth_ready() {
    [ "$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 5 \
        "http://$REGISTRY_AUTH_ADDR/v2/")" = 401 ]
}
etcd_ready() { hcurl "http://$ETCD_CLIENT_ADDR/health" | grep -q '"health":"true"'; }
prometheus_ready() { hcurl "http://$PROMETHEUS_ADDR/-/ready" >/dev/null; }
cadvisor_ready() { [ "$(hcurl "http://$CADVISOR_ADDR/healthz")" = ok ]; }
# sshd greets with its version banner.
sshd_ready() {
    local banner
    banner="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && head -c 4 <&3' _ 127.0.0.1 "${PORT[sshd]}")" &&
        [ "$banner" = SSH- ]
}
part_ready() { "${1//-/_}_ready"; }

# The project's venv python (scripts/setup makes it) runs the cAdvisor stand-in.
venv_dir() {
    local venv="${JOBTUI_VENV:-$ROOT/.venv}"
    case "$venv" in
        /*) ;;
        *) venv="$ROOT/$venv" ;;
    esac
    echo "$venv"
}
venv_python() { echo "$(venv_dir)/bin/python"; }

write_registry_config() {
    # write_registry_config NAME ADDR [AUTH]: our own config (Debian's default
    # one turns on htpasswd auth with a file we do not control).
    local name="$1" addr="$2" auth="${3:-}"
    mkdir -p "$DIR/$name/storage"
    {
        cat <<EOF
version: 0.1
log:
  level: info
  fields:
    service: $name
storage:
  filesystem:
    rootdirectory: $DIR/$name/storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $addr
  headers:
    X-Content-Type-Options: [nosniff]
EOF
        if [ -n "$auth" ]; then
            cat <<EOF
auth:
  htpasswd:
    realm: jobtui-stack
    path: $DIR/$name/htpasswd
EOF
        fi
    } >"$DIR/$name/config.yml"
}

write_prometheus_config() {
    mkdir -p "$DIR/prometheus/data"
    cat >"$DIR/prometheus/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["$PROMETHEUS_ADDR"]
  # Stand-in for cAdvisor (publishes cAdvisor's metric names); may be down.
  - job_name: cadvisor
    static_configs:
      - targets: ["$CADVISOR_ADDR"]
EOF
}

check_part_name() {
    local p
    for p in "${PARTS[@]}"; do
        [ "$p" = "${1:-}" ] && return 0
    done
    die "unknown part '${1:-}' (known: ${PARTS[*]})"
}

part_port_keys() {
    case "$1" in
        registry) echo registry ;;
        registry-auth) echo registry_auth ;;
        etcd) echo etcd etcd_peer ;;
        prometheus) echo prometheus ;;
        cadvisor) echo cadvisor ;;
        sshd) echo sshd ;;
    esac
}

# part_prepare PART: its config files, just before it starts.
part_prepare() {
    case "$1" in
        registry) write_registry_config registry "$REGISTRY_ADDR" ;;
        registry-auth)
            make_registry_auth
            write_registry_config registry-auth "$REGISTRY_AUTH_ADDR" htpasswd
            ;;
        etcd)
            mkdir -p "$DIR/etcd"
            chmod 700 "$DIR/etcd"
            ;;
        prometheus) write_prometheus_config ;;
        sshd) make_ssh ;;
        cadvisor) ;;
    esac
}

# part_cmd PART: fills CMD with the command line of a part.
part_cmd() {
    case "$1" in
        registry | registry-auth)
            CMD=(docker-registry serve "$DIR/$1/config.yml")
            ;;
        etcd)
            CMD=(etcd --name jobtui --data-dir "$DIR/etcd"
                --listen-client-urls "http://$ETCD_CLIENT_ADDR"
                --advertise-client-urls "http://$ETCD_CLIENT_ADDR"
                --listen-peer-urls "http://$ETCD_PEER_ADDR"
                --initial-advertise-peer-urls "http://$ETCD_PEER_ADDR"
                --initial-cluster "jobtui=http://$ETCD_PEER_ADDR"
                --initial-cluster-state new
                --logger zap --log-outputs stderr)
            ;;
        prometheus)
            CMD=(prometheus --config.file "$DIR/prometheus/prometheus.yml"
                --storage.tsdb.path "$DIR/prometheus/data"
                --storage.tsdb.retention.time 2d
                --web.listen-address "$PROMETHEUS_ADDR")
            ;;
        sshd)
            CMD=(/usr/sbin/sshd -D -e -f "$SSH_DIR/sshd_config")
            ;;
        cadvisor)
            local py h
            py="$(venv_python)"
            [ -x "$py" ] || die "cadvisor stand-in: no $py (run bash scripts/setup first)"
            CMD=("$py" "$ROOT/tests/cadvisor_standin.py" --listen "$CADVISOR_ADDR")
            # cAdvisor runs on each host and reads it locally; the stand-in
            # reaches host-ssh's daemon on its socket and host-tls's over TLS.
            for h in "${HOSTS[@]}"; do CMD+=(--host "$h=$(host_url "$h")"); done
            CMD+=(--tls "host-tls=$TLS_DIR/client")
            ;;
    esac
}

part_exe() {
    case "$1" in
        registry | registry-auth) echo docker-registry ;;
        etcd) echo etcd ;;
        prometheus) echo prometheus ;;
        sshd) echo sshd ;;
        cadvisor) basename "$(readlink -f "$(venv_python)")" ;;
    esac
}

part_where() {
    case "$1" in
        registry) echo "http://$REGISTRY_ADDR" ;;
        registry-auth) echo "http://$REGISTRY_AUTH_ADDR (htpasswd, user $REGISTRY_USER)" ;;
        etcd) echo "http://$ETCD_CLIENT_ADDR" ;;
        prometheus) echo "http://$PROMETHEUS_ADDR" ;;
        cadvisor) echo "http://$CADVISOR_ADDR" ;;
        sshd) echo "ssh://$SSH_USER@$SSHD_ADDR -> host-ssh" ;;
    esac
}

part_running() { ours "$(read_pid "$DIR/$1.pid")" "$(part_exe "$1")"; }
part_up() { part_running "$1" && part_ready "$1"; }

stop_part() {
    local p="$1" pid child
    pid="$(read_pid "$DIR/$p.pid")"
    if [ "$p" = sshd ] && ours "$pid" sshd; then
        # The per-connection sshd processes it forked first (their clients'
        # forwards end with them), while the listener still reaps them.
        for child in $(children "$pid"); do
            stop_pid "sshd session" "$child" sshd >/dev/null || true
        done
    fi
    if stop_pid "$p" "$pid" "$(part_exe "$p")"; then
        say "$(printf '%-13s stopped (pid %s)' "$p" "$pid")"
    else
        say "$(printf '%-13s not running' "$p")"
    fi
    rm -f "$DIR/$p.pid"
}
