#!/bin/sh
# Secrets arrive as files (docker compose `secrets:` under /run/secrets), never as image layers or
# plain environment values: build the settings that need them here, then run the given command.
set -eu
if [ -f /run/secrets/db_password ]; then
  DB_PASSWORD=$(cat /run/secrets/db_password)
  export DOSSIER_DATABASE_URL="postgresql+psycopg://${DB_USER:-dossier}:${DB_PASSWORD}@${DB_HOST:-postgres}:5432/${DB_NAME:-dossier}"
fi
if [ -f /run/secrets/s3_secret_key ]; then
  DOSSIER_S3_SECRET_KEY=$(cat /run/secrets/s3_secret_key)
  export DOSSIER_S3_SECRET_KEY
fi
case "${1:-}" in
  init)
    exec dossier init ;;    # idempotent: schema migrations; the keyring must already exist (a secret)
  serve)
    # gunicorn with DOSSIER_WEB_PROCESSES x DOSSIER_WEB_THREADS; the workers run in their own containers
    exec dossier serve --host 0.0.0.0 --port 8080 --no-worker ;;
  worker)
    exec dossier worker ;;
  *)
    exec "$@" ;;
esac
