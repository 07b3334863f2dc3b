# shellcheck shell=bash
# A throwaway PostgreSQL server for the test suite.
#
#   source .ci/postgres.sh          # start (or reuse) a server; exports MMRAG_TEST_POSTGRES_URL
#   mmrag_pg_stop                   # stop it and delete its data (also runs from the EXIT trap)
#   bash .ci/postgres.sh CMD ARGS…  # run one command with a server, then stop it
#
# Installs Debian's `postgresql` package when no server binaries are found, runs initdb in a fresh
# `mktemp -d` directory as an unprivileged user (root cannot run postgres), listens on 127.0.0.1 only, on a
# free port, with trust authentication and durability switched off (the data is thrown away). The superuser
# is `mmrag`; tests connect to the `postgres` database and create their own databases.
# Idempotent: sourcing it again while its server (or any reachable MMRAG_TEST_POSTGRES_URL) is up does nothing.
# Quiet on success; on failure it prints what went wrong with the server log and returns non-zero.

_mmrag_pg_say() { printf 'postgres.sh: %s\n' "$*" >&2; }

# Run a command quietly; on failure show its output and return its status.
_mmrag_pg_quiet() {
    local out status
    out=$("$@" 2>&1) && return 0
    status=$?
    _mmrag_pg_say "failed ($status): $*"
    printf '%s\n' "$out" | tail -n 40 >&2
    return "$status"
}

_mmrag_pg_bindir() {
    local initdb dir
    if initdb=$(command -v initdb 2>/dev/null) && [[ -x "$(dirname "$(readlink -f "$initdb")")/pg_ctl" ]]; then
        dirname "$(readlink -f "$initdb")"
        return 0
    fi
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    [[ -n "$dir" && -x "$dir/initdb" ]] || return 1
    printf '%s\n' "$dir"
}

_mmrag_pg_install() {
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { _mmrag_pg_say "PostgreSQL is not installed and we are not root"; return 1; }
        sudo="sudo"
    fi
    command -v apt-get >/dev/null || { _mmrag_pg_say "PostgreSQL is not installed and there is no apt-get"; return 1; }
    _mmrag_pg_quiet $sudo apt-get update -qq || return 1
    # Install postgresql-common first and tell it not to create (and start) the default cluster on 5432.
    _mmrag_pg_quiet $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-common || return 1
    _mmrag_pg_quiet $sudo sed -i -E 's/^#? *create_main_cluster *=.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf || return 1
    _mmrag_pg_quiet $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql || return 1
}

# The OS user that runs the server: ourselves, or (as root) `postgres`, created if missing.
_mmrag_pg_user() {
    if [[ $(id -u) -ne 0 ]]; then id -un; return 0; fi
    if ! id postgres >/dev/null 2>&1; then
        _mmrag_pg_quiet useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres || return 1
    fi
    printf 'postgres\n'
}

# Run a command as the server's user.
_mmrag_pg_as() {
    if [[ "$MMRAG_PG_OS_USER" == "$(id -un)" ]]; then
        "$@"
    else
        runuser -u "$MMRAG_PG_OS_USER" -- "$@"
    fi
}

# As root the server user must reach the directory, so it goes under /tmp rather than a private TMPDIR.
_mmrag_pg_mktemp() {
    local parent=${TMPDIR:-/tmp}
    [[ $(id -u) -ne 0 ]] || parent=/tmp
    mktemp -d "$parent/mmrag-pg.XXXXXX"
}

_mmrag_pg_free_port() {
    local python
    python=$(command -v python3 || command -v python) || { _mmrag_pg_say "python is needed to find a free port"; return 1; }
    "$python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

_mmrag_pg_url_ready() {
    local bindir=$1 url=$2 hostport host port
    hostport=${url#*@}
    hostport=${hostport%%/*}
    host=${hostport%%:*}
    port=${hostport##*:}
    [[ "$port" != "$hostport" ]] || port=5432
    "$bindir/pg_isready" -q -h "$host" -p "$port" -t 3
}

# Start postgres on a fresh free port; retried by the caller when the port was taken in between.
_mmrag_pg_launch() {
    local port=$1
    _mmrag_pg_as "$MMRAG_PG_BINDIR/pg_ctl" -D "$MMRAG_PG_DIR/data" -l "$MMRAG_PG_DIR/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null 2>&1
}

_mmrag_pg_wait_ready() {
    local port=$1 i
    for i in $(seq 1 60); do
        "$MMRAG_PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2 && return 0
        [[ $i -lt 60 ]] && sleep 0.5
    done
    return 1
}

mmrag_pg_start() {
    local bindir port attempt
    bindir=$(_mmrag_pg_bindir) || { _mmrag_pg_install && bindir=$(_mmrag_pg_bindir); } || {
        _mmrag_pg_say "could not find or install PostgreSQL's initdb/pg_ctl"
        return 1
    }
    if [[ -n "${MMRAG_TEST_POSTGRES_URL:-}" ]] && _mmrag_pg_url_ready "$bindir" "$MMRAG_TEST_POSTGRES_URL"; then
        return 0  # ours from an earlier source, or a server someone else provides
    fi
    [[ -z "${MMRAG_PG_DIR:-}" ]] || mmrag_pg_stop
    MMRAG_PG_BINDIR=$bindir
    MMRAG_PG_OS_USER=$(_mmrag_pg_user) || return 1
    MMRAG_PG_DIR=$(_mmrag_pg_mktemp) || return 1
    export MMRAG_PG_BINDIR MMRAG_PG_OS_USER MMRAG_PG_DIR
    _mmrag_pg_register_trap
    if ! chmod 700 "$MMRAG_PG_DIR" || ! chown "$MMRAG_PG_OS_USER:" "$MMRAG_PG_DIR"; then
        mmrag_pg_stop
        return 1
    fi
    _mmrag_pg_quiet _mmrag_pg_as "$bindir/initdb" -D "$MMRAG_PG_DIR/data" -U mmrag --auth=trust \
        --encoding=UTF8 --no-locale --no-sync || { mmrag_pg_stop; return 1; }
    for attempt in 1 2 3; do
        port=$(_mmrag_pg_free_port) || { mmrag_pg_stop; return 1; }
        if _mmrag_pg_launch "$port" && _mmrag_pg_wait_ready "$port"; then
            export MMRAG_TEST_POSTGRES_URL="postgresql+psycopg://mmrag@127.0.0.1:$port/postgres"
            return 0
        fi
        _mmrag_pg_say "start on port $port failed (attempt $attempt)"
    done
    _mmrag_pg_say "PostgreSQL did not start; log:"
    tail -n 40 "$MMRAG_PG_DIR/postgres.log" >&2 2>/dev/null
    mmrag_pg_stop
    return 1
}

# Stop the server started by mmrag_pg_start and delete its data directory. Safe to call twice.
mmrag_pg_stop() {
    [[ -n "${MMRAG_PG_DIR:-}" ]] || return 0
    if [[ -f "$MMRAG_PG_DIR/data/postmaster.pid" ]]; then
        _mmrag_pg_as "$MMRAG_PG_BINDIR/pg_ctl" -D "$MMRAG_PG_DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
            _mmrag_pg_say "pg_ctl stop failed for $MMRAG_PG_DIR"
    fi
    rm -rf -- "$MMRAG_PG_DIR"
    case "${MMRAG_TEST_POSTGRES_URL:-}" in
        *@127.0.0.1:*) unset MMRAG_TEST_POSTGRES_URL ;;
    esac
    unset MMRAG_PG_DIR MMRAG_PG_BINDIR MMRAG_PG_OS_USER
}

# Add mmrag_pg_stop to the EXIT trap, keeping whatever trap the caller already has.
_mmrag_pg_register_trap() {
    local previous="" current
    local -a words
    current=$(trap -p EXIT)
    if [[ -n "$current" ]]; then
        eval "words=($current)"  # trap -- 'COMMAND' EXIT, quoted by bash for re-use
        previous=${words[2]}
    fi
    [[ "$previous" == *mmrag_pg_stop* ]] && return 0
    # shellcheck disable=SC2064  # expand now: the previous trap's text is fixed here
    trap "mmrag_pg_stop${previous:+; $previous}" EXIT
}

if (return 0 2>/dev/null); then
    mmrag_pg_start || return 1
else
    set -euo pipefail
    mmrag_pg_start
    if [[ $# -eq 0 ]]; then
        _mmrag_pg_say "usage: source .ci/postgres.sh, or: bash .ci/postgres.sh COMMAND [ARGS...]"
        exit 2
    fi
    "$@"
fi
