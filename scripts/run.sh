#!/usr/bin/env bash
# `make run`: a local cluster in $BKND_DATA_DIR/pgdata on 127.0.0.1:$BKND_PG_PORT, database
# `bknd` with the extension, and the sidecar in the foreground. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${BKND_DATA_DIR:-.bknd}
PG_PORT=${BKND_PG_PORT:-54329}
LISTEN=${BKND_LISTEN:-127.0.0.1:3000}
PGDATA_DIR="$DATA_DIR/pgdata"
PSQL=(psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres)

mkdir -p "$DATA_DIR"
scripts/pg.sh start "$PGDATA_DIR" "$PG_PORT"
trap 'echo; echo "stopping PostgreSQL"; scripts/pg.sh stop "$PGDATA_DIR"' EXIT

if [ "$("${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'bknd'")" != 1 ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE bknd"
fi
"${PSQL[@]}" -d bknd -c "CREATE EXTENSION IF NOT EXISTS bknd" -c "ALTER EXTENSION bknd UPDATE"

ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/bknd"
KEYS=$(target/release/bknd keys --database-url "$ADMIN_URL")
ANON=$(printf '%s' "$KEYS" | sed -E 's/.*"anon":"([^"]+)".*/\1/')
SERVICE=$(printf '%s' "$KEYS" | sed -E 's/.*"service_role":"([^"]+)".*/\1/')
# the console is never open: until a member has set a password, a new one-time link for the
# first owner at each start (BKND_OWNER_EMAIL, default owner@example.com)
OWNER_LINK=""
if [ "$("${PSQL[@]}" -d bknd -tAc "SELECT EXISTS (SELECT 1 FROM bknd.console_members WHERE password_hash IS NOT NULL)")" != t ]; then
  OWNER_LINK=$(target/release/bknd members add "${BKND_OWNER_EMAIL:-owner@example.com}" --role owner \
    --database-url "$ADMIN_URL" --public-url "http://$LISTEN" | sed -n 's/.*open: //p')
fi

cat <<INFO

  bknd is running
    API              http://$LISTEN   (/rest/v1, /auth/v1, /storage/v1)
    MCP              http://$LISTEN/mcp  (or: target/release/bknd mcp --database-url postgres://authenticator@127.0.0.1:$PG_PORT/bknd --token KEY)
    email            without --smtp-url (BKND_SMTP_URL), each message is a file in ${BKND_MAIL_DIR:-$DATA_DIR/mail}/new/
    database         $ADMIN_URL
    anon key         $ANON
    service_role key $SERVICE
    console          http://$LISTEN/console/  (members: target/release/bknd members add EMAIL --role ROLE --database-url $ADMIN_URL)
${OWNER_LINK:+    first owner      ${BKND_OWNER_EMAIL:-owner@example.com}: set a password within 24 hours at $OWNER_LINK
}
  Ctrl-C stops the sidecar and PostgreSQL.

INFO
target/release/bknd serve --database-url "postgres://authenticator@127.0.0.1:$PG_PORT/bknd" --listen "$LISTEN" \
  --storage "${BKND_STORAGE:-file://$DATA_DIR/storage}" --mail-dir "${BKND_MAIL_DIR:-$DATA_DIR/mail}"
