"""The WSGI entry point for production servers: `gunicorn -w 4 -b 0.0.0.0:8080 'web.wsgi:app'`.

Settings come from DOSSIER_HOME / config.toml / DOSSIER_* as for the CLI. Every gunicorn process opens
its own vault (database pool, blob store, keyring); none runs the index worker or writes the index:
run `dossier worker` beside them: exactly one for the whoosh and fts5 engines (a single writer of the
index files), as many as you like for pg. `dossier serve` is gunicorn with one worker already.
"""

from __future__ import annotations

from web import create_app

app = create_app()
