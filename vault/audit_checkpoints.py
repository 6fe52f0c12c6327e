"""Signed checkpoints of the audit chain, kept outside the database, so a rewritten chain is caught.

The hash chain alone only shows that the events agree with each other: whoever can write the database
can edit, delete or reorder events, recompute every hash after them and update the stored head, and
the chain still verifies. A checkpoint pins the chain from outside. It names a sequence number, the
hash of that event, the time, and a short keyed digest of each event's content since the previous
checkpoint, and it is signed with the Ed25519 key in the keyring (never in the database). Each is
appended as one JSON line to the checkpoint file (`audit_checkpoint_file`, default
`<home>/audit-checkpoints.jsonl`), which a separate system may collect, and which goes into every
backup. The worker writes one every `audit_checkpoint_interval_s` when the chain has grown, and one
follows every destruction and every backup.

Verification then names the attack: a checkpoint whose event is gone (truncated, even with the head
rewritten), an event whose content differs (edited), events missing or added in the middle (deleted,
inserted), or the same events in another order (reordered).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vault.audit import ChainReport, _fields, canonical_json, verify_chain
from vault.models import AuditEvent, AuditHead

log = logging.getLogger("dossier.audit")
FORMAT = "dossier-vault-audit-checkpoint/1"
DIGEST_HEX = 16  # 64 bits per event: enough to tell events apart, not to read them back
MAX_DIGESTS = 200_000  # a first checkpoint of a long trail covers only its most recent events
MAX_GAP = 1000  # the most events deleted or inserted in one place that verification names as such


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    prev_seq: int  # the digests cover events prev_seq+1 .. seq
    digests: str
    public_key: str
    signature: str = ""

    def signed_bytes(self) -> bytes:
        """The exact bytes the signature covers."""
        return canonical_json({"format": FORMAT, "seq": self.seq, "hash": self.hash, "at": self.at,
                               "prev_seq": self.prev_seq, "digests": self.digests,
                               "public_key": self.public_key}).encode()

    def digest_list(self) -> list[str]:
        return [self.digests[i:i + DIGEST_HEX] for i in range(0, len(self.digests), DIGEST_HEX)]

    def line(self) -> str:
        return json.dumps({"format": FORMAT, "seq": self.seq, "hash": self.hash, "at": self.at,
                           "prev_seq": self.prev_seq, "digests": self.digests, "public_key": self.public_key,
                           "signature": self.signature}, separators=(",", ":")) + "\n"


@dataclass(frozen=True)
class Finding:
    """What the checkpoints show: `kind` is edited, deleted, inserted, reordered, truncated or forged."""

    kind: str
    seq: int | None
    problem: str


class Signer:
    """The keyring's audit signing key, the public half for verification, and the digest key."""

    def __init__(self, seed: bytes) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        raw = self._private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode("ascii")
        self._digest_key = hashlib.sha256(b"dossier-vault/v1/audit-digest\n" + seed).digest()

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._private.sign(data)).decode("ascii")

    def verify(self, checkpoint: Checkpoint) -> bool:
        """True if the checkpoint was signed by this key."""
        if checkpoint.public_key != self.public_key:
            return False
        try:
            signature = base64.b64decode(checkpoint.signature, validate=True)
            Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public_key)).verify(
                signature, checkpoint.signed_bytes())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def digest(self, event: AuditEvent) -> str:
        """A keyed digest of what an event says, its place in the chain (seq, hashes) left out."""
        fields = {k: v for k, v in _fields(event).items() if k != "seq"}
        return hmac.new(self._digest_key, canonical_json(fields).encode(), "sha256").hexdigest()[:DIGEST_HEX]


def signer_for(v: Any) -> Signer:
    """The signer of this vault (its keyring's audit signing key, created on first use)."""
    return Signer(v.keyring.audit_signing_key())


def try_sign_head(v: Any) -> None:
    """`sign_head`, with a failure logged instead of raised (the worker signs at its next interval)."""
    try:
        sign_head(v)
    except Exception:  # noqa: BLE001 - what was done before stays done; the checkpoint follows later
        log.exception("could not sign an audit checkpoint; the worker tries again at its next interval")


def checkpoint_path(v: Any) -> Path:
    path: Path = v.settings.audit_checkpoints_path
    return path


# -- reading and writing the file ----------------------------------------------------------------


def read_checkpoints(path: Path) -> tuple[list[Checkpoint], list[Finding]]:
    """Every checkpoint in a checkpoint file, and a finding for each line that is not one."""
    out: list[Checkpoint] = []
    bad: list[Finding] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out, bad
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if d.get("format") != FORMAT:
                raise ValueError("format")
            out.append(Checkpoint(int(d["seq"]), str(d["hash"]), str(d["at"]), int(d["prev_seq"]),
                                  str(d["digests"]), str(d["public_key"]), str(d["signature"])))
        except (ValueError, KeyError, TypeError, AttributeError):
            bad.append(Finding("forged", None, f"line {number} of {path} is not a checkpoint"))
    return out, bad


def append_lines(path: Path, line: str) -> None:
    """Append to the checkpoint file (0600), synced to disk before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _digests(session: Session, signer: Signer, after: int, upto: int) -> list[str]:
    rows = session.scalars(select(AuditEvent).where(AuditEvent.seq > after, AuditEvent.seq <= upto)
                           .order_by(AuditEvent.seq)).all()
    return [signer.digest(e) for e in rows]


def sign_head(v: Any) -> Checkpoint | None:
    """Sign a checkpoint of the chain's head and append it to the checkpoint file; None if the head has
    not moved since the last checkpoint (or there are no events yet).

    Owns its transaction: it signs what is committed, and writes the file outside the database."""
    signer = signer_for(v)
    path = checkpoint_path(v)
    existing, _ = read_checkpoints(path)
    last = max((c.seq for c in existing if signer.verify(c)), default=0)
    with v.session() as s:
        head = s.get(AuditHead, 1)
        if head is None or head.seq == 0 or head.seq <= last:
            return None
        prev_seq = max(last, head.seq - MAX_DIGESTS)
        digests = "".join(_digests(s, signer, prev_seq, head.seq))
        unsigned = Checkpoint(head.seq, head.hash, v.clock.now().isoformat(), prev_seq, digests, signer.public_key)
    checkpoint = Checkpoint(**{**unsigned.__dict__, "signature": signer.sign(unsigned.signed_bytes())})
    append_lines(path, checkpoint.line())
    return checkpoint


# -- verifying -----------------------------------------------------------------------------------


def _classify(cp: Checkpoint, now: list[str]) -> Finding:
    """Name how the events of `cp`'s window differ from the digests it signed."""
    signed = cp.digest_list()
    first = cp.prev_seq + 1
    i = next((k for k, (a, b) in enumerate(zip(signed, now, strict=False)) if a != b), min(len(signed), len(now)))
    seq = first + i
    if len(now) < len(signed) and now == signed[:len(now)]:
        return Finding("truncated", first + len(now),
                       f"events {first + len(now)} to {cp.seq} were removed from the end: a checkpoint signed "
                       f"at {cp.at} names event {cp.seq}, the database ends at {first + len(now) - 1}")
    if sorted(signed) == sorted(now[:len(signed)]) and signed != now[:len(signed)]:
        return Finding("reordered", seq, f"events from {seq} on are in another order than the checkpoint "
                                         f"signed at {cp.at} (reordered)")
    for m in range(1, min(len(signed) - i, MAX_GAP) + 1):
        if i + m < len(signed) and i < len(now) and signed[i + m] != now[i]:
            continue  # cheap test first: the windows are long
        if signed[i + m:] == now[i:i + len(signed) - i - m] and (i + m < len(signed) or len(now) == i):
            return Finding("deleted", seq, f"{m} event(s) at {seq} signed in the checkpoint of {cp.at} are gone "
                                           f"and the events after them renumbered (deleted)")
    for m in range(1, min(len(now) - i - 1, MAX_GAP) + 1):
        if i < len(signed) and now[i + m] != signed[i]:
            continue
        if now[i + m:i + m + len(signed) - i] == signed[i:] and i < len(signed):
            return Finding("inserted", seq, f"{m} event(s) at {seq} were not in the checkpoint signed at "
                                            f"{cp.at} (inserted)")
    if i < len(signed) and now[i + 1:len(signed)] == signed[i + 1:]:
        return Finding("edited", seq, f"event {seq} differs from the checkpoint signed at {cp.at} (edited, "
                                      "the hashes after it recomputed)")
    return Finding("edited", seq, f"events from {seq} on differ from the checkpoint signed at {cp.at}")


def check(session: Session, signer: Signer, checkpoints: list[Checkpoint]) -> list[Finding]:
    """Compare the database's chain with signed checkpoints: a finding for each checkpoint that is not
    this vault's, and one for the earliest checkpoint the database contradicts (later ones follow from it)."""
    findings: list[Finding] = []
    top = session.scalar(select(func.max(AuditEvent.seq))) or 0
    trusted = []
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        if signer.verify(cp):
            trusted.append(cp)
        else:
            findings.append(Finding("forged", cp.seq, f"the checkpoint naming event {cp.seq} at {cp.at} is not "
                                                      "signed by this vault's key (forged or altered)"))
    hashes: dict[int, str] = {}
    wanted = sorted({cp.seq for cp in trusted})
    for i in range(0, len(wanted), 500):
        rows = session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(wanted[i:i + 500])))
        hashes.update((seq, digest) for seq, digest in rows)
    for cp in trusted:
        if hashes.get(cp.seq) == cp.hash:
            continue
        window = _digests(session, signer, cp.prev_seq, max(top, cp.seq))
        signed = cp.digest_list()
        if window[:len(signed)] == signed and len(window) >= len(signed):
            findings.append(Finding("edited", cp.prev_seq, f"events up to {cp.prev_seq} were changed after the "
                                                           f"checkpoint of {cp.at} was signed"))
        else:
            findings.append(_classify(cp, window))
        break
    return findings


def verify(v: Any, session: Session, also: tuple[Path, ...] = ()) -> ChainReport:
    """Verify the chain by itself, then against every signed checkpoint in the checkpoint file and in
    the files `also` names (copies collected elsewhere, the copy in a backup).

    The chain check catches an event changed without recomputing what follows; the checkpoints catch a
    chain rewritten and rehashed, and events cut off the end with the stored head moved back.
    """
    chain = verify_chain(session)
    checkpoints: list[Checkpoint] = []
    unreadable: list[Finding] = []
    for path in (checkpoint_path(v), *also):
        found, bad = read_checkpoints(path)
        checkpoints += found
        unreadable += bad
    seed = v.keyring.existing_audit_signing_key()
    if seed is None:  # no checkpoint was ever signed here: every one found is foreign
        findings = unreadable + [Finding("forged", c.seq, f"the checkpoint naming event {c.seq} is not signed by "
                                                          "this vault's key (it has none yet)") for c in checkpoints]
    else:
        findings = unreadable + check(session, Signer(seed), checkpoints)
    count, last = len(checkpoints), max((c.seq for c in checkpoints), default=None)
    if not chain.ok:
        return dataclasses.replace(chain, checkpoints=count, last_checkpoint_seq=last)
    if findings:
        # the contradiction of the chain comes first; a forged line only says the file was tampered with
        f = next((f for f in findings if f.kind != "forged"), findings[0])
        return ChainReport(False, chain.events, chain.head, f.seq, f.problem, f.kind, count, last)
    return ChainReport(True, chain.events, chain.head, checkpoints=count, last_checkpoint_seq=last)
