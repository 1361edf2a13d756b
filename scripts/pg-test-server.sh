#!/usr/bin/env bash
# A throw-away PostgreSQL server for the library's PostgreSQL tests.
#
#   scripts/pg-test-server.sh start        install if needed, start, print FACTORY_TEST_PG_URL=…
#                                          (and FACTORY_TEST_PG_CA=…, FACTORY_TEST_PG_OTHER_CA=…)
#   scripts/pg-test-server.sh stop         stop it and delete its files
#   scripts/pg-test-server.sh url          print the URL of the running server
#   scripts/pg-test-server.sh run CMD…     start, run CMD with those variables exported,
#                                          stop (also when CMD fails); exits with CMD's status
#
# The cluster lives in a directory of its own ($FACTORY_PG_DIR, default /tmp/factory-pg-test;
# `run` makes a new one each time)
# and listens on 127.0.0.1 only, on the first free port from $FACTORY_PG_PORT (54329), with
# its unix socket in that directory: it never touches a system cluster. PostgreSQL refuses to
# run as root, so as root the cluster belongs to the `postgres` system user (created when
# missing). The superuser `factory` has a password (scram over TCP) so the tests can check
# that a wrong one is refused and never printed.
#
# TLS is on (ssl=on; plain TCP is still accepted, so `sslmode=disable` and `prefer` are
# tested too). The server's certificate, for 127.0.0.1 and localhost, is signed by a CA made
# for this cluster: $DIR/ca.pem, exported as FACTORY_TEST_PG_CA for `sslrootcert=`.
# $DIR/other-ca.pem (FACTORY_TEST_PG_OTHER_CA) is an unrelated CA, for a certificate that
# must be refused. All made with `openssl` (installed with postgresql when missing).
set -euo pipefail

DIR=${FACTORY_PG_DIR:-/tmp/factory-pg-test}
PORT0=${FACTORY_PG_PORT:-54329}
DB=factory_test
PGUSER_NAME=factory
PASSWORD=factory-test-pw

log() { echo "pg-test-server: $*" >&2; }

pg_bin() {
  local d
  # Newest installed major version first.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -Vr); do
    if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

install_pg() {
  if pg_bin >/dev/null; then return 0; fi
  if [[ $(id -u) -ne 0 ]]; then
    log "PostgreSQL is not installed; run as root: apt-get install -y postgresql"
    exit 1
  fi
  log "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends postgresql >&2
  # The package starts a system cluster on 5432 where it can; ours does not use it.
  pg_bin >/dev/null || { log "initdb still missing after installing postgresql"; exit 1; }
}

install_openssl() {
  if command -v openssl >/dev/null; then return 0; fi
  if [[ $(id -u) -ne 0 ]]; then
    log "openssl is not installed; run as root: apt-get install -y openssl"
    exit 1
  fi
  log "installing Debian's openssl"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends openssl >&2
}

# The test CA, the server's key and certificate signed by it, and an unrelated CA, in $DIR.
# Made by the cluster's owner so the key is its own, mode 600, as PostgreSQL requires.
# ECDSA P-256 keys: made instantly, and rustls' ring provider verifies them.
make_certs() {
  as_owner bash -euo pipefail -c '
    cd "$1"
    umask 077
    ca() {
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    }
    ca ca "factory test CA"
    ca other-ca "some other CA"
    rm other-ca.key
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout server.key -out server.csr -subj "/CN=localhost"
    printf "%s\n" "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
      -days 3650 -extfile server.ext -out server.crt
    rm server.csr server.ext ca.key
    chmod 644 ca.pem other-ca.pem server.crt
  ' make_certs "$DIR" >"$DIR/certs.log" 2>&1 || { cat "$DIR/certs.log" >&2; exit 1; }
}

# The variables the tests read, one NAME=value a line.
print_vars() {
  echo "FACTORY_TEST_PG_URL=$(cat "$DIR/url")"
  echo "FACTORY_TEST_PG_CA=$DIR/ca.pem"
  echo "FACTORY_TEST_PG_OTHER_CA=$DIR/other-ca.pem"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  install_pg
  install_openssl
  local bin
  bin=$(pg_bin)
  if [[ -f $DIR/url ]] && as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    log "already running"
    print_vars
    return 0
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  if [[ $(id -u) -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    chown postgres "$DIR"
  fi
  chmod 700 "$DIR"
  local port=$PORT0
  while ! port_free "$port"; do
    port=$((port + 1))
    if ((port > PORT0 + 50)); then
      log "no free port in $PORT0..$((PORT0 + 50))"
      exit 1
    fi
  done
  as_owner bash -c "umask 077; printf '%s\n' '$PASSWORD' > '$DIR/pwfile'"
  as_owner "$bin/initdb" -D "$DIR/data" -U "$PGUSER_NAME" --pwfile="$DIR/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; exit 1; }
  make_certs
  # fsync off: a test cluster is thrown away, and the tests' commits should not wait on disk.
  as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $port -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$DIR/server.crt -c ssl_key_file=$DIR/server.key" \
    start >&2 || { cat "$DIR/server.log" >&2; exit 1; }
  as_owner "$bin/createdb" -h "$DIR" -p "$port" -U "$PGUSER_NAME" "$DB"
  local url="postgres://$PGUSER_NAME:$PASSWORD@127.0.0.1:$port/$DB"
  echo "$url" >"$DIR/url"
  log "running on 127.0.0.1:$port, TLS on (data in $DIR)"
  print_vars
}

stop() {
  local bin
  if bin=$(pg_bin) && [[ -d $DIR/data ]]; then
    as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$DIR"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  url) cat "$DIR/url" ;;
  run)
    shift
    # A directory of its own unless one was asked for, so two `make test` on one machine do
    # not share (and stop) each other's server.
    if [[ -z ${FACTORY_PG_DIR:-} ]]; then
      DIR=$(mktemp -d /tmp/factory-pg-test.XXXXXX)
    fi
    start >/dev/null
    trap stop EXIT
    FACTORY_TEST_PG_URL=$(cat "$DIR/url")
    FACTORY_TEST_PG_CA=$DIR/ca.pem
    FACTORY_TEST_PG_OTHER_CA=$DIR/other-ca.pem
    export FACTORY_TEST_PG_URL FACTORY_TEST_PG_CA FACTORY_TEST_PG_OTHER_CA
    set +e
    "$@"
    status=$?
    set -e
    exit "$status"
    ;;
  *)
    echo "usage: $0 start|stop|url|run CMD…" >&2
    exit 2
    ;;
esac
