"""Signed-in browser sessions held on the server, and the throttle in front of every password check.

A browser session is a row: the cookie carries a random id, the row its SHA-256. Sign-out ends the
row, so a cookie copied before sign-out no longer works; the idle and absolute lifetimes are checked
against the row. The throttle counts failed sign-ins per address (whatever the names) and per name
from one address, so a stranger elsewhere cannot lock the name's owner out.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from vault import audit
from vault.core import Vault
from vault.errors import TooManyAttempts
from vault.models import LoginAttempt, Role, User, WebSession

TOUCH_EVERY_S = 30  # last_seen_at is written at most this often per session (every page would be a write)


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def start_web_session(v: Vault, session: Session, user: User, client_addr: str | None) -> str:
    """Open a browser session for a user who just signed in; the id to put in the cookie."""
    sid = secrets.token_urlsafe(32)
    now = v.clock.now()
    session.add(WebSession(user_id=user.id, sid_hash=_digest(sid), client_addr=(client_addr or "")[:64] or None,
                           created_at=now, last_seen_at=now))
    return sid


@dataclass(frozen=True)
class SessionCheck:
    """The user behind a cookie, or why there is none: 'ended', 'idle' or 'expired'."""

    user: User | None
    reason: str = ""


def check_web_session(v: Vault, session: Session, sid: str | None, user_key: str, *,
                      write: bool = True) -> SessionCheck:
    """Who a browser session belongs to, if it still holds; marks it seen (or ended when it ran out).

    `user_key` is the `<id>:<epoch>` the cookie names: a password change or deactivation since
    sign-in ends the session too. ``write=False``: the same answer, nothing marked (a read-only unit of work).
    """
    if not sid:
        return SessionCheck(None, "ended")
    row = session.scalar(select(WebSession).where(WebSession.sid_hash == _digest(sid))
                         .options(joinedload(WebSession.user)))
    if row is None or row.ended_at is not None:
        return SessionCheck(None, "ended")
    now = v.clock.now()
    reason = ""
    if now - row.created_at > timedelta(hours=v.settings.session_max_hours):
        reason = "expired"
    elif now - row.last_seen_at > timedelta(minutes=v.settings.session_idle_minutes):
        reason = "idle"
    user = row.user
    if not reason and (not user.active or user.role is Role.SYSTEM or user.get_id() != user_key):
        reason = "ended"
    if reason:
        if write:
            row.ended_at = now
        return SessionCheck(None, reason)
    if write and (now - row.last_seen_at).total_seconds() >= TOUCH_EVERY_S:
        row.last_seen_at = now
    return SessionCheck(user)


def end_web_session(v: Vault, session: Session, sid: str | None) -> None:
    """Sign-out: the session ends on the server, whatever copies of the cookie exist."""
    if not sid:
        return
    row = session.scalar(select(WebSession).where(WebSession.sid_hash == _digest(sid)))
    if row is not None and row.ended_at is None:
        row.ended_at = v.clock.now()
        audit.record(session, row.user, "user.logged_out", row.user, now=row.ended_at)


def end_all_web_sessions(v: Vault, session: Session, user: User, *, keep: str | None = None) -> int:
    """End every open browser session of a user (but `keep`); how many ended."""
    keep_hash = _digest(keep) if keep else None
    rows = session.scalars(select(WebSession).where(WebSession.user_id == user.id,
                                                    WebSession.ended_at.is_(None))).all()
    now = v.clock.now()
    ended = 0
    for row in rows:
        if row.sid_hash != keep_hash:
            row.ended_at = now
            ended += 1
    return ended


def _failures(session: Session, since: datetime, *, username: str | None = None,
              client_addr: str | None = None) -> tuple[int, datetime | None]:
    """How many failed sign-ins match, and when the last was."""
    q = select(func.count(), func.max(LoginAttempt.at)).where(LoginAttempt.success.is_(False),
                                                              LoginAttempt.at >= since)
    if username is not None:
        q = q.where(LoginAttempt.username == username)
    if client_addr is not None:
        q = q.where(LoginAttempt.client_addr == client_addr)
    count, last = session.execute(q).one()
    return int(count or 0), last


def require_sign_in_allowed(v: Vault, session: Session, username: str, client_addr: str | None) -> None:
    """Raise TooManyAttempts (429, with a retry delay) when this address must wait before trying again.

    Per address: at most login_address_max_failures failures within the window, whatever the names.
    Per name from this address: after login_max_failures failures since the name's last successful
    sign-in, a wait of login_lock_base_s that doubles with each further failure (capped at the window).
    Failures from other addresses do not count: the owner signing in from their own machine is never
    held up by someone guessing elsewhere, and the right password after the wait clears the count.
    """
    s = v.settings
    now = v.clock.now()
    window_start = now - timedelta(seconds=s.login_failure_window_s)
    addr = (client_addr or "")[:64] or None
    if addr is not None:
        count, _last = _failures(session, window_start, client_addr=addr)
        if count >= s.login_address_max_failures:
            raise TooManyAttempts("too many failed sign-ins from your address; wait 15 minutes and try again",
                                  code="too_many_attempts_address", retry_after=s.login_failure_window_s)
    last_ok = session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == username, LoginAttempt.success.is_(True)))
    since = max(window_start, last_ok) if last_ok is not None else window_start
    count, last = _failures(session, since, username=username, client_addr=addr)
    if count < s.login_max_failures or last is None:
        return
    wait = min(s.login_lock_base_s * 2 ** (count - s.login_max_failures), s.login_failure_window_s)
    retry_at = last + timedelta(seconds=wait)
    if now < retry_at:
        seconds = max(1, int((retry_at - now).total_seconds() + 0.999))
        raise TooManyAttempts("too many failed sign-ins for this account from your address; wait {seconds} "
                              "seconds and try again", params={"seconds": seconds}, retry_after=seconds)
