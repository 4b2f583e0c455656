#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb + postgres) are available for the
# test suite, which starts its own throw-away server (tests/support/postgres.py).
#
# Idempotent: when binaries are already found nothing is installed.  The search
# is the same as in tests/support/postgres.py:
#   1. initdb on PATH, with postgres in the same (symlink-resolved) directory;
#   2. /usr/lib/postgresql/*/bin, newest major version first (numeric order),
#      where Debian/Ubuntu's "postgresql" package installs them (not on PATH).
# When nothing is found: apt-get update && apt-get install -y postgresql
# (Debian/Ubuntu; through sudo when not root).  The package's own cluster is not
# used by the tests.
set -euo pipefail

PG_ROOT=/usr/lib/postgresql

# Print the bin directory holding executable initdb and postgres, or fail.
find_bindir() {
    local initdb dir
    if initdb=$(command -v initdb 2>/dev/null) && [ -n "$initdb" ]; then
        dir=$(dirname -- "$(readlink -f -- "$initdb")")
        if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
            printf '%s\n' "$dir"
            return 0
        fi
    fi
    [ -d "$PG_ROOT" ] || return 1
    while IFS= read -r dir; do
        if [ -x "$dir/bin/initdb" ] && [ -x "$dir/bin/postgres" ]; then
            printf '%s\n' "$dir/bin"
            return 0
        fi
    done < <(version_dirs)
    return 1
}

# Subdirectories of $PG_ROOT: version names ("16", "9.6") newest first, compared
# numerically by sort -V; any other names after them.
version_dirs() {
    local all
    all=$(find "$PG_ROOT" -mindepth 1 -maxdepth 1 -type d | sort)
    grep -E '/[0-9]+(\.[0-9]+)?$' <<<"$all" | sort -V -r || true
    grep -v -E '/[0-9]+(\.[0-9]+)?$' <<<"$all" | sort -r || true
}

report() {
    echo "PostgreSQL server binaries: $1"
    "$1/postgres" --version
}

if bindir=$(find_bindir); then
    report "$bindir"
    exit 0
fi

echo "No PostgreSQL server binaries found (PATH, $PG_ROOT/*/bin); installing the Debian package."
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get not available; install the PostgreSQL server by other means" >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "error: not root and sudo is not available" >&2
        exit 1
    fi
    sudo=(sudo)
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql

if ! bindir=$(find_bindir); then
    echo "error: postgresql installed but initdb/postgres still not found" >&2
    exit 1
fi
report "$bindir"
