# shellcheck shell=bash
# Part of scripts/stack, sourced by it: what a stack makes once and keeps: TLS
# certificates, SSH keys and configs, the auth registry's password.

# ---------------------------------------------------------------- TLS and SSH material

# A CA, a server certificate for 127.0.0.1 and a client certificate, made
# once per stack (EC keys: openssl makes all three in well under a second).
make_tls() {
    local f complete=1
    for f in {server,client}/{ca,cert,key}.pem; do [ -s "$TLS_DIR/$f" ] || complete=0; done
    [ "$complete" = 0 ] || return 0
    local t="$TLS_DIR"
    rm -rf "$t"
    mkdir -p "$t/ca" "$t/server" "$t/client"
    chmod 700 "$t/ca"
    : >"$DIR/tls.log"
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    tls_run req -x509 "${ec[@]}" -keyout "$t/ca/key.pem" -out "$t/ca/ca.pem" -days 3650 \
        -subj "/CN=jobtui stack CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    local who
    for who in server client; do
        tls_run req "${ec[@]}" -keyout "$t/$who/key.pem" -out "$t/$who/req.csr" \
            -subj "/CN=$([ "$who" = server ] && echo host-tls || echo jobtui)"
        if [ "$who" = server ]; then
            printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
                'extendedKeyUsage=serverAuth' >"$t/$who/ext.cnf"
        else
            printf '%s\n' 'extendedKeyUsage=clientAuth' >"$t/$who/ext.cnf"
        fi
        printf '%s\n' 'keyUsage=critical,digitalSignature,keyAgreement' >>"$t/$who/ext.cnf"
        tls_run x509 -req -in "$t/$who/req.csr" -CA "$t/ca/ca.pem" -CAkey "$t/ca/key.pem" \
            -set_serial "0x$(openssl rand -hex 8)" -days 3650 -out "$t/$who/cert.pem" \
            -extfile "$t/$who/ext.cnf"
        rm -f "$t/$who/req.csr" "$t/$who/ext.cnf"
        cp "$t/ca/ca.pem" "$t/$who/ca.pem"
    done
    chmod 600 "$t"/*/key.pem
}

tls_run() {
    if ! openssl "$@" >>"$DIR/tls.log" 2>&1; then
        show_log "$DIR/tls.log"
        rm -rf "$TLS_DIR"
        die "openssl $1 failed while making the TLS certificates"
    fi
}

# Host key, client key, authorized_keys, sshd_config, and for clients a
# known_hosts and an ssh_config (OpenSSH reads ~/.ssh from the passwd home,
# not $HOME, so clients are pointed at these files explicitly).
make_ssh() {
    local s="$SSH_DIR"
    mkdir -p "$s"
    chmod 700 "$s"
    [ -s "$s/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "host-ssh ($DIR)" -f "$s/host_ed25519_key"
    [ -s "$s/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "jobtui ($DIR)" -f "$s/id_ed25519"
    cp "$s/id_ed25519.pub" "$s/authorized_keys"
    cat >"$s/sshd_config" <<EOF
# sshd in front of host-ssh's Docker socket, written by scripts/stack.
ListenAddress $SSHD_ADDR
HostKey $s/host_ed25519_key
AuthorizedKeysFile $s/authorized_keys
PidFile none
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowStreamLocalForwarding local
AllowTcpForwarding local
AllowAgentForwarding no
X11Forwarding no
PrintMotd no
MaxSessions 64
MaxStartups 64:30:128
LogLevel INFO
EOF
    printf '[127.0.0.1]:%s %s\n' "${PORT[sshd]}" "$(cut -d' ' -f1,2 "$s/host_ed25519_key.pub")" \
        >"$s/known_hosts"
    cat >"$s/ssh_config" <<EOF
# The stack's ssh-only Docker host, for \`ssh -F $s/ssh_config host-ssh\`
# (or an Include from ~/.ssh/config). Written by scripts/stack.
Host host-ssh
    HostName 127.0.0.1
    Port ${PORT[sshd]}
    User $SSH_USER
    IdentityFile $s/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $s/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
EOF
    # sshd's privilege separation directory (the Debian service makes it at boot).
    mkdir -p /run/sshd
}

# The auth registry's user and password: made once; the password lives in
# a 0600 file of the stack that jobtui never reads (scripts/demo and the
# tests put it into $REGISTRY_PASSWORD_ENV).
registry_password() { cat "$DIR/registry-auth/password"; }

make_registry_auth() {
    local r="$DIR/registry-auth"
    mkdir -p "$r/storage"
    if ! [ -s "$r/password" ]; then
        (umask 077 && openssl rand -hex 16 >"$r/password")
    fi
    if ! [ -s "$r/htpasswd" ]; then
        # bcrypt (-B): the only hash Debian's docker-registry accepts; -i reads stdin.
        registry_password | htpasswd -B -i -c "$r/htpasswd" "$REGISTRY_USER" 2>"$DIR/htpasswd.log" ||
            {
                show_log "$DIR/htpasswd.log"
                die "htpasswd failed"
            }
    fi
}
