"""The watched folder: the worker files every stack a scanner drops there, and never loses one.

A file leaves the folder only after all its parts are committed (then it is deleted: its content is
stored, encrypted, as the parts). A crash in the middle leaves it where it is, and the next poll resumes
the stack (found again by its fingerprint) without filing anything twice. A file the service cannot use
(not a PDF, unreadable, over the limits) moves to `rejected/` beside a `<name>.reason.txt` saying why, so
the folder keeps working; a passing fault (the database away) leaves the file for the next poll.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import select

from indexer import intake
from vault.core import Vault
from vault.errors import VaultError
from vault.models import User
from vault.services import users

log = logging.getLogger("dossier.intake")

SETTLE_S = 2.0  # a file younger than this may still be being written by the scanner
REJECTED = "rejected"


def _folder_actor(v: Vault) -> User:
    """Who files the folder's stacks: the intake_folder_user setting, else the operator's system account."""
    with v.session() as s:
        name = v.settings.intake_folder_user
        user = s.scalar(select(User).where(User.username == name)) if name else users.system_user(s, v.clock.now())
        if user is None or not user.active:
            raise RuntimeError(f"intake_folder_user {name!r} is not an active user")
        s.expunge(user)
        return user


def _reject(path: Path, reason: str) -> Path:
    rejected = path.parent / REJECTED
    rejected.mkdir(exist_ok=True)
    target = rejected / path.name
    n = 1
    while target.exists():
        target = rejected / f"{path.stem}-{n}{path.suffix}"
        n += 1
    path.rename(target)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    return target


def waiting_files(folder: Path, now: float | None = None) -> list[Path]:
    """The stacks ready to be filed: plain files, not hidden, not still being written, oldest name first."""
    now = time.time() if now is None else now
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and now - p.stat().st_mtime >= SETTLE_S)


def poll_folder(v: Vault) -> dict[str, list[str]]:
    """File every waiting stack of the watched folder once; what was filed, rejected, and left for later."""
    done: dict[str, list[str]] = {"filed": [], "rejected": [], "later": []}
    folder = v.settings.intake_folder
    if folder is None or not folder.is_dir():
        return done
    actor = _folder_actor(v)
    for path in waiting_files(folder):
        try:
            result = intake.process_stack(v, actor, path, path.name, source="folder")
        except VaultError as exc:  # the file's own fault: it must not block the folder
            _reject(path, exc.message)
            log.warning("intake folder: %s rejected: %s", path.name, exc.message)
            done["rejected"].append(path.name)
            continue
        except Exception:  # noqa: BLE001 - a passing fault: leave the file, try again at the next poll
            log.exception("intake folder: %s left for the next poll", path.name)
            done["later"].append(path.name)
            continue
        path.unlink()
        log.info("intake folder: %s filed %s part(s), %s unfiled", path.name, len(result["filed"]),
                 len(result["unfiled"]))
        done["filed"].append(path.name)
    return done


def poll_intake_folder(v: Vault) -> None:
    """The worker's periodic task; an error is logged, never raised into the loop."""
    try:
        poll_folder(v)
    except Exception:  # noqa: BLE001 - try again at the next interval
        log.exception("intake folder poll failed; trying again in %ss", v.settings.intake_poll_interval_s)
