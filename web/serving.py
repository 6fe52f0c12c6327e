"""`dossier serve`: the app under gunicorn (processes and threads from settings) and one index worker.

This process is gunicorn's master: it forks ``web_processes`` processes of ``web_threads`` threads
each (gthread), which open their own vault after the fork (no database connection crosses a fork).
The index worker runs once, whatever the number of web processes, as one `dossier worker` child
started here and stopped here. Ctrl+C (SIGINT) or SIGTERM stop both, with exit status 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from indexer.sandbox import die_with_parent

WORKER_STOP_S = 60  # how long the index worker may take to finish its current step when stopped
GRACEFUL_S = 10  # how long requests in flight may take to finish after a stop


class DossierServer(BaseApplication):
    """gunicorn with its configuration given here, not read from files or the command line."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from web import create_app

        return create_app()


def bind_address(host: str, port: int) -> str:
    """gunicorn's form of a listening address (an IPv6 host in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def start_index_worker() -> subprocess.Popen[bytes]:
    """One `dossier worker` beside the web processes, with this process's settings (environment, home);
    it is sent SIGTERM if this process dies without stopping it (killed outright)."""
    parent = os.getpid()
    return subprocess.Popen([sys.executable, "-m", "web.cli", "worker"],
                            preexec_fn=lambda: die_with_parent(signal.SIGTERM, parent))


def stop_index_worker(proc: subprocess.Popen[bytes]) -> None:
    """Ask the worker to finish its current step and wait for it (killed if it takes too long)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=WORKER_STOP_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(host: str, port: int, processes: int, threads: int) -> None:
    """Serve until SIGINT or SIGTERM; returns normally (gunicorn's own exit is caught here)."""
    server = DossierServer({
        "bind": bind_address(host, port),
        "workers": processes,
        "threads": threads,
        "worker_class": "gthread",
        "graceful_timeout": GRACEFUL_S,
        "timeout": 300,  # a worker silent this long (not a slow upload: gthread heartbeats) is replaced
        "proc_name": "dossier-serve",
        "errorlog": "-",
        "loglevel": "warning",
    })
    try:
        server.run()
    except SystemExit as exc:  # the arbiter exits when stopped: 0 for SIGINT and SIGTERM
        if exc.code not in (0, None):
            raise
