# shellcheck shell=bash
# Part of scripts/stack, sourced by it: the demo images (built and pushed to both
# registries), the deployed demo, and the inventories and stack.env a stack writes.

# ---------------------------------------------------------------- images

# registry_has ADDR REPO TAG: the registry holds a manifest for REPO:TAG
# (1: it answered 404). A registry that does not answer is an error, never
# "absent": rebuilding on a hiccup would reorder the tags' creation times.
registry_has() {
    local addr="$1" auth=() code="" try
    [ "$addr" = "$REGISTRY_AUTH_ADDR" ] && auth=(-K -)
    for try in 1 2 3; do
        # The password goes through curl's config on stdin, never its command line.
        code="$(printf 'user = "%s:%s"\n' "$REGISTRY_USER" "$(registry_password 2>/dev/null)" |
            curl --noproxy '*' -s --connect-timeout 5 --max-time 10 "${auth[@]}" -o /dev/null \
                -w '%{http_code}' -I \
                -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
                "http://$addr/v2/$2/manifests/$3")" || true
        case "$code" in
            200) return 0 ;;
            404) return 1 ;;
        esac
        [ "$try" = 3 ] || sleep 0.5 # a retry after a failed request, not a readiness wait
    done
    die "registry $addr did not answer for $2:$3 (HTTP ${code:-none})"
}

# build_context KIND TAG: assemble the build context of one image in
# $DIR/build/KIND-TAG: the Dockerfile from scripts/images/KIND, busybox from
# the busybox-static package, and rootfs/ with the entrypoint and the files
# that carry the version (so every tag has its own content and digest).
build_context() {
    local kind="$1" tag="$2" ctx="$DIR/build/$1-$2"
    local entry="$IMAGES_SRC/$kind/entrypoint.sh"
    rm -rf "$ctx"
    mkdir -p "$ctx/rootfs/etc"
    cp "$IMAGES_SRC/$kind/Dockerfile" "$ctx/Dockerfile"
    cp /bin/busybox "$ctx/busybox"
    printf '%s\n' "$tag" >"$ctx/rootfs/etc/demo-version"
    # New content at every build: the last layer is never an older cached one.
    date -u +%FT%T.%NZ >"$ctx/rootfs/etc/demo-build"
    if [ "$kind" = web ]; then
        [ "$tag" = broken ] && entry="$IMAGES_SRC/web/broken.sh"
        mkdir -p "$ctx/rootfs/www"
        printf 'web %s\n' "$tag" >"$ctx/rootfs/www/index.html"
        printf 'ok\n' >"$ctx/rootfs/www/health"
    fi
    cp "$entry" "$ctx/rootfs/entrypoint.sh"
    echo "$ctx"
}

registry_login() {
    local out
    # Logged in before (the CLI keeps it in $DOCKER_CONFIG, which jobtui never reads).
    grep -q "\"$REGISTRY_AUTH_ADDR\"" "$DOCKER_CONFIG/config.json" 2>/dev/null && return 0
    if ! out="$(registry_password | dk host-a login --username "$REGISTRY_USER" \
        --password-stdin "$REGISTRY_AUTH_ADDR" 2>&1)"; then
        die "docker login to $REGISTRY_AUTH_ADDR failed: $out"
    fi
}

# push_all ADDR KIND TAGS...: push the local images to one registry at once.
push_all() {
    local addr="$1" kind="$2"
    shift 2
    local tag ref pushes=() i=0 failed=0 log="$DIR/build.log"
    for tag in "$@"; do
        ref="$addr/demo/$kind:$tag"
        [ "$addr" = "$REGISTRY_ADDR" ] || dk host-a tag "$REGISTRY_ADDR/demo/$kind:$tag" "$ref"
        dk host-a push "$ref" >"$DIR/build/push-$addr-$kind-$tag.log" 2>&1 &
        pushes+=("$!")
    done
    for tag in "$@"; do
        ref="$addr/demo/$kind:$tag"
        if wait "${pushes[$i]}"; then
            say "$(printf '%-13s pushed %s' images "$ref")"
        else
            printf 'stack: ERROR: push of %s failed\n' "$ref" >&2
            show_log "$DIR/build/push-$addr-$kind-$tag.log"
            failed=1
        fi
        cat "$DIR/build/push-$addr-$kind-$tag.log" >>"$log"
        rm -f "$DIR/build/push-$addr-$kind-$tag.log"
        i=$((i + 1))
    done
    return "$failed"
}

build_and_push() {
    local kind="$1"
    shift
    local tag open=1 auth=1
    for tag in "$@"; do
        registry_has "$REGISTRY_ADDR" "demo/$kind" "$tag" || open=0
        registry_has "$REGISTRY_AUTH_ADDR" "demo/$kind" "$tag" || auth=0
    done
    if [ "$open$auth" = 11 ]; then
        say "$(printf '%-13s demo/%s:{%s} already in both registries' images "$kind" "$(
            IFS=,
            echo "$*"
        )")"
        return 0
    fi
    # Push what host-a still has; otherwise build every tag afresh, in order,
    # so their creation times order them as their names do (each context
    # carries a build stamp: a partly cached rebuild would not), and push
    # them to both registries.
    local ref ctx log="$DIR/build.log" have=1
    for tag in "$@"; do
        dk host-a image inspect "$REGISTRY_ADDR/demo/$kind:$tag" >/dev/null 2>&1 || have=0
    done
    if [ "$have" = 0 ]; then
        mkdir -p "$DIR/build"
        for tag in "$@"; do
            ref="$REGISTRY_ADDR/demo/$kind:$tag"
            ctx="$(build_context "$kind" "$tag")"
            echo "=== $(date -u +%FT%TZ) build $ref" >>"$log"
            if ! dk host-a build --network none -t "$ref" "$ctx" >>"$log" 2>&1; then
                printf 'stack: ERROR: build of %s failed\n' "$ref" >&2
                show_log "$log"
                exit 1
            fi
        done
        open=0
        auth=0
    fi
    local failed=0
    if [ "$open" = 0 ]; then push_all "$REGISTRY_ADDR" "$kind" "$@" || failed=1; fi
    if [ "$auth" = 0 ]; then push_all "$REGISTRY_AUTH_ADDR" "$kind" "$@" || failed=1; fi
    [ "$failed" -eq 0 ] || exit 1
}

build_images() {
    registry_login
    local failed=0 k
    local -A pids=()
    # web and worker build and push side by side.
    for k in web worker; do
        if [ "$k" = web ]; then
            build_and_push web "${WEB_TAGS[@]}" >"$DIR/.out/images-$k" 2>&1 &
        else
            build_and_push worker "${WORKER_TAGS[@]}" >"$DIR/.out/images-$k" 2>&1 &
        fi
        pids[$k]=$!
    done
    for k in web worker; do
        wait "${pids[$k]}" || failed=1
        cat "$DIR/.out/images-$k"
        rm -f "$DIR/.out/images-$k"
    done
    [ "$failed" -eq 0 ] || die "building or pushing the demo images failed (see above)"
}

# ---------------------------------------------------------------- demo

# deploy HOST SERVICE IMAGE_TAG PORT|- [docker run args...] [-- command...]
deploy() {
    local host="$1" svc="$2" repo_tag="$3" port="$4"
    shift 4
    local ref="$REGISTRY_ADDR/demo/$repo_tag" tag="${repo_tag##*:}"
    local ids running
    ids="$(dk "$host" ps -aq --filter "label=jobtui.service=$svc")"
    if [ -n "$ids" ]; then
        running="$(dk "$host" ps -q --filter "label=jobtui.service=$svc")"
        if [ -n "$running" ]; then
            say "$(printf '%-13s %s on %s: running' demo "$svc" "$host")"
            return 0
        fi
    fi
    # It is not running: its port must be free, or it would fail to start.
    if [ "$port" != - ] && listening "$port"; then
        printf 'stack: ERROR: %s\n' "$(port_taken_message "$svc on $host" "$port")" >&2
        port_hint
        return 1
    fi
    if [ -n "$ids" ]; then
        # Present but stopped (e.g. after a daemon restart): start the newest
        # of the demo's version, so the demo comes back as its inventory says
        # even when test rollouts left containers of other versions; with
        # none of that version left, create one below.
        local newest
        newest="$(dk "$host" ps -aq --latest --filter "label=jobtui.service=$svc" \
            --filter "label=jobtui.version=$tag")"
        if [ -n "$newest" ]; then
            dk "$host" start "$newest" >/dev/null
            say "$(printf '%-13s %s on %s: restarted stopped container %s' demo "$svc" "$host" \
                "$(dk "$host" inspect -f '{{.Name}}' "$newest" | tr -d /)")"
            return 0
        fi
    fi
    pull "$host" "$ref"
    local name
    name="${svc}_$(date +%s)"
    local env_port=()
    [ "$port" = - ] || env_port=(-e "PORT=$port")
    dk "$host" run -d --name "$name" --network host \
        --label "jobtui.service=$svc" --label "jobtui.version=$tag" \
        "${env_port[@]}" "$@" "$ref" >/dev/null
    say "$(printf '%-13s %s on %s: created %s (%s)' demo "$svc" "$host" "$name" "$ref")"
}

pull() {
    local host="$1" ref="$2" out
    if ! out="$(dk "$host" pull -q "$ref" 2>&1)"; then
        die "$host could not pull $ref from the registry: $out"
    fi
}

deploy_adhoc() {
    local host=host-b name=adhoc-debug ref="$REGISTRY_ADDR/demo/worker:v1"
    local state
    state="$(dk "$host" inspect --type container -f '{{.State.Running}}' "$name" 2>/dev/null || true)"
    case "$state" in
        true) say "$(printf '%-13s %s on %s: running (unmanaged)' demo "$name" "$host")" ;;
        false)
            dk "$host" start "$name" >/dev/null
            say "$(printf '%-13s %s on %s: restarted (unmanaged)' demo "$name" "$host")"
            ;;
        *)
            pull "$host" "$ref"
            # No jobtui labels: a container jobtui does not manage.
            dk "$host" run -d --name "$name" --network host --init "$ref" sleep 100000 >/dev/null
            say "$(printf '%-13s %s on %s: created (unmanaged)' demo "$name" "$host")"
            ;;
    esac
}

deploy_on() {
    case "$1" in
        host-a)
            deploy host-a web web:v1 "${PORT[web]}" --stop-timeout 5
            deploy host-a worker worker:v1 -
            ;;
        host-b)
            deploy host-b api web:v1 "${PORT[api]}"
            deploy host-b worker worker:v1 -
            deploy_adhoc
            ;;
        host-tls) deploy host-tls billing web:v1 "${PORT[billing]}" --stop-timeout 5 ;;
        host-ssh) deploy host-ssh shop web:v1 "${PORT[shop]}" --stop-timeout 5 ;;
    esac
}

deploy_demo() {
    parallel deploy_on "${HOSTS[@]}" || die "deploying the demo failed (see above)"
}

# The ssh path works end to end: our key, our known_hosts, the socket behind it.
check_ssh_path() {
    local out
    if ! out="$(ssh -F "$SSH_DIR/ssh_config" -o ConnectTimeout=5 host-ssh \
        test -S "$DIR/host-ssh/docker.sock" 2>&1)"; then
        die "host-ssh: ssh -F $SSH_DIR/ssh_config host-ssh failed: ${out:-no socket}"
    fi
}

# The demo inventory. $1: with host-ssh and the ssh: settings or not.
inventory_text() {
    local with_ssh="$1"
    cat <<EOF
# Demo inventory written by scripts/stack up for the stack in $DIR.
hosts:
  host-a: unix://$DIR/host-a/docker.sock
  host-b: unix://$DIR/host-b/docker.sock
  host-tls:
    url: tcp://$DOCKER_TLS_ADDR
    tls:
      ca_cert: $TLS_DIR/client/ca.pem
      client_cert: $TLS_DIR/client/cert.pem
      client_key: $TLS_DIR/client/key.pem
EOF
    if [ "$with_ssh" = yes ]; then
        cat <<EOF
  host-ssh: $HOST_SSH_URL
ssh:
  identity_file: $SSH_DIR/id_ed25519
  known_hosts_file: $SSH_DIR/known_hosts
EOF
    else
        cat <<EOF
  # host-ssh: $HOST_SSH_URL
  #   left out: this jobtui does not reach it through the ssh: settings yet
  #   (jobtui-ssh.yml has them; ssh -F $SSH_DIR/ssh_config host-ssh reaches it)
EOF
    fi
    cat <<EOF
registry:
  url: http://$REGISTRY_ADDR
etcd:
  endpoints: ["$ETCD_CLIENT_ADDR"]
  prefix: /jobtui
prometheus:
  url: http://$PROMETHEUS_ADDR
services:
  - name: web
    image: $REGISTRY_ADDR/demo/web:v1
    run_on_host: host-a
    port: ${PORT[web]}
    envs:
      - key: PORT
        value: ${PORT[web]}
    network_mode: host
    stop_grace_period: 5
  - name: api
    image: $REGISTRY_ADDR/demo/web:v1
    run_on_host: host-b
    port: ${PORT[api]}
    envs:
      - key: PORT
        value: ${PORT[api]}
    network_mode: host
  - name: worker
    image: $REGISTRY_ADDR/demo/worker:v1
    run_on_host: [host-a, host-b]
    network_mode: host
  - name: billing
    image: $REGISTRY_ADDR/demo/web:v1
    run_on_host: host-tls
    port: ${PORT[billing]}
    envs:
      - key: PORT
        value: ${PORT[billing]}
    network_mode: host
    stop_grace_period: 5
EOF
    if [ "$with_ssh" = yes ]; then
        cat <<EOF
  - name: shop
    image: $REGISTRY_ADDR/demo/web:v1
    run_on_host: host-ssh
    port: ${PORT[shop]}
    envs:
      - key: PORT
        value: ${PORT[shop]}
    network_mode: host
    stop_grace_period: 5
EOF
    fi
}

# An inventory on the auth registry: its password comes from the
# environment variable it names, never from a file jobtui reads.
registry_auth_inventory_text() {
    cat <<EOF
# Inventory on the stack's htpasswd registry, written by scripts/stack up.
# jobtui reads the password from \$$REGISTRY_PASSWORD_ENV; scripts/demo and the
# tests set it from $DIR/registry-auth/password.
hosts:
  host-a: unix://$DIR/host-a/docker.sock
  host-b: unix://$DIR/host-b/docker.sock
registry:
  url: http://$REGISTRY_AUTH_ADDR
  username: $REGISTRY_USER
  password_env: $REGISTRY_PASSWORD_ENV
etcd:
  endpoints: ["$ETCD_CLIENT_ADDR"]
  prefix: /jobtui-registry-auth
services:
  - name: ledger
    image: $REGISTRY_AUTH_ADDR/demo/worker:v1
    run_on_host: [host-a, host-b]
    network_mode: host
EOF
}

# Whether the venv's jobtui loads an inventory with host-ssh and its ssh:
# settings and reaches host-ssh through them (`jobtui status`): until it
# does, host-ssh stays out of jobtui.yml so the demo and the tests see only
# hosts jobtui can use. JOBTUI_STACK_SSH_HOST=yes|no overrides the check.
jobtui_reaches_ssh() {
    case "${JOBTUI_STACK_SSH_HOST:-auto}" in
        yes) return 0 ;;
        no)
            echo "JOBTUI_STACK_SSH_HOST=no" >"$DIR/.validate.out"
            return 1
            ;;
    esac
    local venv
    venv="$(venv_dir)"
    if ! [ -x "$venv/bin/jobtui" ]; then
        echo "no jobtui in $venv" >"$DIR/.validate.out"
        return 1
    fi
    if ! "$venv/bin/jobtui" validate "$1" >"$DIR/.validate.out" 2>&1; then
        # file:line: key: message -> key: message
        sed -i -e 's/^[^:]*:[0-9]*: //' -e '/^$/d' "$DIR/.validate.out"
        return 1
    fi
    timeout 30 "$venv/bin/jobtui" -i "$1" status --json 2>/dev/null |
        "$venv/bin/python" -c '
import json, sys
try:
    hosts = {h["name"]: h for h in json.load(sys.stdin)["hosts"]}
except (ValueError, KeyError, TypeError):
    sys.exit("jobtui status --json did not answer")
ssh = hosts.get("host-ssh", {})
if ssh.get("status") != "up":
    why = ssh.get("error") or ssh.get("status") or "not in the answer"
    sys.exit("jobtui does not reach host-ssh yet: " + str(why))
' >"$DIR/.validate.out" 2>&1
}

write_inventory() {
    local tmp="$DIR/.jobtui.yml.tmp" with_ssh=no
    inventory_text yes >"$DIR/.jobtui-ssh.yml.tmp"
    if jobtui_reaches_ssh "$DIR/.jobtui-ssh.yml.tmp"; then
        with_ssh=yes
        mv "$DIR/.jobtui-ssh.yml.tmp" "$tmp"
        rm -f "$DIR/jobtui-ssh.yml"
    else
        mv "$DIR/.jobtui-ssh.yml.tmp" "$DIR/jobtui-ssh.yml"
        inventory_text no >"$tmp"
        say "$(printf '%-13s host-ssh left out of jobtui.yml, kept in jobtui-ssh.yml (%s)' \
            inventory "$(head -n 1 "$DIR/.validate.out" 2>/dev/null)")"
    fi
    rm -f "$DIR/.validate.out"
    mv "$tmp" "$DIR/jobtui.yml"
    registry_auth_inventory_text >"$DIR/.jobtui-registry-auth.yml.tmp"
    mv "$DIR/.jobtui-registry-auth.yml.tmp" "$DIR/jobtui-registry-auth.yml"
    tmp="$DIR/.stack.env.tmp"
    cat >"$tmp" <<EOF
JOBTUI_STACK_DIR=$DIR
STACK_PORTS_FILE=$DIR/ports.env
HOST_A_URL=unix://$DIR/host-a/docker.sock
HOST_B_URL=unix://$DIR/host-b/docker.sock
HOST_TLS_URL=tcp://$DOCKER_TLS_ADDR
HOST_TLS_CERT_DIR=$TLS_DIR/client
HOST_SSH_URL=$HOST_SSH_URL
HOST_SSH_SOCKET=$DIR/host-ssh/docker.sock
HOST_SSH_IN_INVENTORY=$with_ssh
SSHD_PORT=${PORT[sshd]}
SSH_CONFIG=$SSH_DIR/ssh_config
SSH_IDENTITY=$SSH_DIR/id_ed25519
SSH_KNOWN_HOSTS=$SSH_DIR/known_hosts
REGISTRY_URL=http://$REGISTRY_ADDR
REGISTRY_AUTH_URL=http://$REGISTRY_AUTH_ADDR
REGISTRY_AUTH_USERNAME=$REGISTRY_USER
REGISTRY_AUTH_PASSWORD_ENV=$REGISTRY_PASSWORD_ENV
REGISTRY_AUTH_PASSWORD_FILE=$DIR/registry-auth/password
REGISTRY_AUTH_INVENTORY=$DIR/jobtui-registry-auth.yml
ETCD_ENDPOINT=$ETCD_CLIENT_ADDR
PROMETHEUS_URL=http://$PROMETHEUS_ADDR
CADVISOR_URL=http://$CADVISOR_ADDR
WEB_PORT=${PORT[web]}
API_PORT=${PORT[api]}
SHOP_PORT=${PORT[shop]}
BILLING_PORT=${PORT[billing]}
PROBE_PORT=${PORT[probe]}
JOBTUI_INVENTORY=$DIR/jobtui.yml
EOF
    mv "$tmp" "$DIR/stack.env"
}
