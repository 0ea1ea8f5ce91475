#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the tests: installed from the
# distribution's packages when absent, one cluster in a temporary directory,
# run by an unprivileged user, on a free loopback port. Sourced by .ci/run
# (or by hand: `source .ci/postgres.sh` then `cargo test ...`); exports
# HYPERION_TEST_POSTGRES and defines stop_test_postgres.

find_pg_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
  return 1
}

if ! pg_bin=$(find_pg_bin); then
  echo "PostgreSQL is not installed: installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  pg_bin=$(find_pg_bin)
fi

pg_dir=$(mktemp -d /tmp/hyperion-pg.XXXXXX)
chmod 755 "$pg_dir"
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ "$(id -u)" = 0 ]; then
  # initdb refuses root: the cluster belongs to an unprivileged user.
  id hyperion-ci >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin hyperion-ci
  chown hyperion-ci "$pg_dir"
  as_pg() { su -s /bin/sh hyperion-ci -c "$*"; }
  pg_user=hyperion-ci
else
  as_pg() { sh -c "$*"; }
  pg_user=$(id -un)
fi
as_pg "'$pg_bin/initdb' -D '$pg_dir/data' -U '$pg_user' --auth=trust --no-sync -E UTF8" >/dev/null
as_pg "'$pg_bin/pg_ctl' -D '$pg_dir/data' -l '$pg_dir/log' -w -o \"-c listen_addresses=127.0.0.1 -p $pg_port -k '$pg_dir' -c fsync=off -c max_connections=300\" start" >/dev/null

stop_test_postgres() {
  as_pg "'$pg_bin/pg_ctl' -D '$pg_dir/data' -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}

export HYPERION_TEST_POSTGRES="postgres://$pg_user@127.0.0.1:$pg_port/postgres"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port for the tests ($HYPERION_TEST_POSTGRES)"
