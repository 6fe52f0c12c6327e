"""The WSGI entry point for production servers: `gunicorn -w 4 -b 0.0.0.0:8080 'web.wsgi:app'`.

Settings come from DOSSIER_HOME / config.toml / DOSSIER_* as for the CLI. Every gunicorn process opens
its own vault (database pool, blob store, keyring); none runs the index worker or writes the index:
run exactly one `dossier worker` beside them, so the search index has a single writer.
"""

from __future__ import annotations

from web import create_app

app = create_app()
