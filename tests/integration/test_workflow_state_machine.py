"""A Hypothesis state machine over checkout, approval, return, overdue, hold, proposal, approval and execution.

Invariants: no content read without a grant or role; nobody approves their own request or batch; nothing
under hold is destroyed; after execution no key, blob, extracted text or postings remain and the audit
chain verifies.

The search index is the real one: just before a batch is executed the index worker runs (sandboxed
extraction of small text-layer PDFs, ~0.3-1 s each, so only then and once per document), and after the
execution each destroyed document's unique term is neither found by legal's search nor present in the
bytes of any index file.
"""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.support.workflow_fixtures import index_files_hold, search_ids
from vault import audit
from vault.core import Vault
from vault.errors import Conflict, Forbidden, Gone
from vault.models import (
    Document,
    DocumentStatus,
    DocumentVersion,
    LegalHold,
    User,
)
from vault.services import checkouts, destruction, documents, dossiers, holds, reading


def _tiny_pdf(text: str) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, invariant=True)
    c.drawString(72, 720, text)
    c.showPage()
    c.save()
    return buf.getvalue()


# one term per document for the whole run (the vault outlives an example): letters and digits, one token
_TERMS = (f"probe{n:06d}term" for n in itertools.count())


@contextmanager
def _index_randomness() -> Iterator[None]:
    """Fresh randomness for index writes: Whoosh names new segments with the global `random`.

    Hypothesis seeds that generator alike for every example, so without this a new segment takes the
    name of a live one from an earlier example and its commit fails. Hypothesis's state is put back after.
    """
    state = random.getstate()
    random.seed()
    try:
        yield
    finally:
        random.setstate(state)


@dataclass
class ModelCheckout:
    id: int
    requester: str
    dossier_id: int
    kind: str
    days: int
    status: str = "pending"
    due_at: datetime | None = None


@dataclass
class ModelDoc:
    id: int
    dossier_id: int
    due: bool
    held_by: set[int]
    term: str
    destroyed: bool = False
    blob_key: str | None = None


@dataclass
class ModelBatch:
    id: int
    proposer: str
    docs: list[int]
    approvals: dict[str, str]  # role -> who
    status: str = "proposed"


class Workflows(RuleBasedStateMachine):
    docs = Bundle("docs")
    requests = Bundle("requests")
    batches = Bundle("batches")
    holds_b = Bundle("holds")

    def __init__(self, vault: Vault, users: dict[str, User], index: SearchIndex, api: Api) -> None:
        super().__init__()
        self.v, self.users, self.index, self.api = vault, users, index, api
        self.model_docs: dict[int, ModelDoc] = {}
        self.model_checkouts: dict[int, ModelCheckout] = {}
        self.model_batches: dict[int, ModelBatch] = {}
        self.model_holds: dict[int, int | None] = {}  # hold id -> document id (None: released)

    def now(self) -> datetime:
        return self.v.clock.now()

    # -- documents ---------------------------------------------------------------------------------
    @rule(target=docs, due=st.booleans())
    def upload(self, due: bool) -> int:
        return self._upload(due)

    @initialize(target=docs)
    def upload_due(self) -> int:
        return self._upload(True)

    def _upload(self, due: bool) -> int:
        v, arch = self.v, self.users["arch1"]
        with v.session() as s:
            dossier = dossiers.create_dossier(v, s, arch, {"customer_name": "状态机客户", "customer_type": "client"})
            dossier_id = dossier.id
        term = next(_TERMS)
        staged = documents.stage_upload(v, [_tiny_pdf(f"doc {term} {self.now()}")], "x.pdf")
        doc_date = "1990-01-01" if due else self.now().date().isoformat()
        with v.session() as s:
            doc = documents.commit_upload(v, s, arch, dossier_id, staged, doc_type="contract", doc_date=doc_date)
            doc_id, blob_key = doc.id, staged.blob_key
        self.model_docs[doc_id] = ModelDoc(doc_id, dossier_id, due, set(), term, blob_key=blob_key)
        return doc_id  # its index job waits in the queue: the worker runs before an execution

    # -- checkouts ---------------------------------------------------------------------------------
    @rule(target=requests, doc=docs, who=st.sampled_from(["emp1", "emp2", "arch1"]),
          kind=st.sampled_from(["view", "copy", "physical"]), days=st.integers(1, 10))
    def request(self, doc: int, who: str, kind: str, days: int) -> int:
        m = self.model_docs[doc]
        with self.v.session() as s:
            c = checkouts.request_checkout(self.v, s, self.users[who], {"dossier_id": m.dossier_id, "purpose": "p",
                                                                         "kind": kind, "days": days})
            cid = c.id
        self.model_checkouts[cid] = ModelCheckout(cid, who, m.dossier_id, kind, days)
        return cid

    @rule(target=requests, doc=docs, who=st.sampled_from(["emp1", "emp2"]), kind=st.sampled_from(["view", "copy"]),
          days=st.integers(1, 10))
    def request_and_approve(self, doc: int, who: str, kind: str, days: int) -> int:
        """The common path in one step, so that grants, reads and expiry happen often."""
        cid = self.request(doc, who, kind, days)
        self._decide(cid, "arch2", approve=True)
        return cid

    def _decide(self, cid: int, who: str, approve: bool) -> None:
        m = self.model_checkouts[cid]
        actor = self.users[who]
        try:
            with self.v.session() as s:
                if approve:
                    checkouts.approve_checkout(self.v, s, actor, cid, "ok")
                else:
                    checkouts.reject_checkout(self.v, s, actor, cid, "no")
        except Forbidden:
            assert who == m.requester or actor.role.value != "archivist"
            return
        except Conflict:
            assert m.status != "pending"
            return
        assert who != m.requester, "somebody decided their own request"
        event("a checkout was decided")
        assert actor.role.value == "archivist" and m.status == "pending"
        if not approve:
            m.status = "rejected"
        elif m.kind == "physical":
            m.status = "approved"
        else:
            m.status, m.due_at = "active", self.now() + timedelta(days=m.days)

    @rule(cid=requests, who=st.sampled_from(["arch1", "arch2", "emp1", "emp2", "manager"]))
    def approve(self, cid: int, who: str) -> None:
        self._decide(cid, who, approve=True)

    @rule(cid=requests, who=st.sampled_from(["arch1", "arch2", "emp1"]))
    def reject(self, cid: int, who: str) -> None:
        self._decide(cid, who, approve=False)

    @rule(cid=requests)
    def give_back(self, cid: int) -> None:
        m = self.model_checkouts[cid]
        try:
            with self.v.session() as s:
                checkouts.return_checkout(self.v, s, self.users[m.requester], cid)
        except Conflict:
            assert m.status != "active"
            return
        assert m.status == "active"
        m.status = "returned"

    @rule(days=st.integers(1, 6))
    def time_passes(self, days: int) -> None:
        self.v.clock.advance(days=days)  # type: ignore[attr-defined]

    @rule()
    def overdue(self) -> None:
        with self.v.session() as s:
            done = checkouts.process_overdue(self.v, s, self.users["system"])
            for c in done:
                m = self.model_checkouts.get(c.id)  # the vault outlives one example: skip earlier ones
                if m is None:
                    continue
                assert m.status == "active" and m.due_at is not None and m.due_at <= self.now()

    @rule(doc=docs, who=st.sampled_from(["emp1", "emp2"]))
    def read(self, doc: int, who: str) -> None:
        md = self.model_docs[doc]
        now = self.now()
        granted = any(c.requester == who and c.dossier_id == md.dossier_id and c.kind != "physical"
                      and c.status == "active" and c.due_at is not None and now < c.due_at
                      for c in self.model_checkouts.values())
        try:
            with self.v.session() as s:
                data = reading.open_page(self.v, s, self.users[who], doc, 1)  # the viewer: view and copy alike
        except Forbidden:
            assert not granted, "a granted read was refused"
            return
        except Gone:
            assert granted and md.destroyed
            return
        assert granted, "content was read without a grant or role"
        event("a granted read")
        assert not md.destroyed and data.startswith(b"\x89PNG")

    @rule(cid=requests)
    def read_through(self, cid: int) -> None:
        """The requester of a checkout reads a document of its dossier (granted or not, as the model says)."""
        m = self.model_checkouts[cid]
        doc = next(d.id for d in self.model_docs.values() if d.dossier_id == m.dossier_id)
        if m.requester != "arch1":  # an archivist reads by role; the model covers employees
            self.read(doc, m.requester)

    # -- holds and destruction ---------------------------------------------------------------------
    @rule(target=holds_b, doc=docs)
    def hold(self, doc: int) -> int:
        md = self.model_docs[doc]
        try:
            with self.v.session() as s:
                h = holds.place_hold(self.v, s, self.users["legal"], document_id=doc, reason="case")
                hid = h.id
        except Conflict:
            assert md.destroyed
            return -1
        md.held_by.add(hid)
        self.model_holds[hid] = doc
        return hid

    @rule(hid=holds_b)
    def release(self, hid: int) -> None:
        if hid < 0:
            return
        try:
            with self.v.session() as s:
                holds.release_hold(self.v, s, self.users["legal"], hid, "settled")
        except Conflict:
            assert self.model_holds[hid] is None
            return
        doc = self.model_holds[hid]
        assert doc is not None
        self.model_docs[doc].held_by.discard(hid)
        self.model_holds[hid] = None

    def _open_batch_of(self, doc: int) -> bool:
        return any(doc in b.docs and b.status in ("proposed", "approved") for b in self.model_batches.values())

    @rule(target=batches, picked=st.lists(docs, min_size=1, max_size=3, unique=True),
          who=st.sampled_from(["arch1", "arch2"]))
    def propose(self, picked: list[int], who: str) -> int:
        try:
            with self.v.session() as s:
                batch = destruction.propose(self.v, s, self.users[who], picked, "retention ended")
                bid = batch.id
        except Conflict:
            assert any(not self.model_docs[d].due or self.model_docs[d].held_by or self.model_docs[d].destroyed
                       or self._open_batch_of(d) for d in picked)
            return -1
        assert all(self.model_docs[d].due and not self.model_docs[d].held_by and not self.model_docs[d].destroyed
                   for d in picked), "a held, undue or destroyed document was proposed"
        self.model_batches[bid] = ModelBatch(bid, who, sorted(picked), {})
        return bid

    @rule(bid=batches, who=st.sampled_from(["manager", "legal", "arch1", "arch2", "manager2"]))
    def approve_batch(self, bid: int, who: str) -> None:
        if bid < 0:
            return
        mb = self.model_batches[bid]
        role = self.users[who].role.value
        try:
            with self.v.session() as s:
                destruction.approve(self.v, s, self.users[who], bid, "ok")
        except Forbidden:  # the proposer, a wrong role, or one person approving twice
            assert who == mb.proposer or role not in ("manager", "legal") or who in mb.approvals.values()
            return
        except Conflict:
            assert mb.status != "proposed" or role in mb.approvals
            return
        assert who != mb.proposer and role in ("manager", "legal") and role not in mb.approvals
        assert who not in mb.approvals.values(), "one person gave both approvals"
        mb.approvals[role] = who
        if set(mb.approvals) == {"manager", "legal"}:
            mb.status = "approved"

    @rule(picked=st.lists(docs, min_size=1, max_size=2, unique=True), who=st.sampled_from(["arch1", "arch2"]))
    def destroy(self, picked: list[int], who: str) -> None:
        """Proposal, both approvals and execution in one step, so that executions happen often."""
        bid = self.propose(picked, "arch1")
        self.both_approve(bid)
        self.execute(bid, who)

    @rule(bid=batches)
    def both_approve(self, bid: int) -> None:
        """A manager and legal approve, in one step."""
        self.approve_batch(bid, "manager")
        self.approve_batch(bid, "legal")

    @rule(bid=batches, who=st.sampled_from(["arch1", "arch2"]))
    def execute(self, bid: int, who: str) -> None:
        if bid < 0:
            return
        mb = self.model_batches[bid]
        if mb.status == "approved":
            with _index_randomness():
                run_pending(self.v, self.index)  # the real worker indexes what was uploaded so far, each document once
            indexed = self.index.document_ids()
            for d in mb.docs:  # so that the checks after the execution prove something
                assert d in indexed and index_files_hold(self.v, self.model_docs[d].term)
                assert search_ids(self.api, self.users["legal"], self.model_docs[d].term) == [d]
        try:
            destruction.execute(self.v, self.users[who], bid)
        except Conflict:
            assert mb.status != "approved" or any(self.model_docs[d].held_by for d in mb.docs)
            return
        with _index_randomness():  # the index worker purges: it rewrites segments
            run_pending(self.v, self.index)
        assert mb.status == "approved" and not any(self.model_docs[d].held_by for d in mb.docs)
        mb.status = "executed"
        event("a batch was executed")
        for d in mb.docs:
            self.model_docs[d].destroyed = True
            assert search_ids(self.api, self.users["legal"], self.model_docs[d].term) == [], "legal still finds it"

    # -- invariants --------------------------------------------------------------------------------
    @invariant()
    def nothing_under_hold_is_destroyed(self) -> None:
        with self.v.session() as s:
            for h in s.scalars(select(LegalHold).where(LegalHold.released_at.is_(None))):
                doc = s.get(Document, h.document_id)
                assert doc is not None and doc.status is DocumentStatus.ACTIVE

    @invariant()
    def destroyed_documents_keep_no_key_blob_text_or_postings(self) -> None:
        destroyed = [m for m in self.model_docs.values() if m.destroyed]
        if not destroyed:
            return
        with self.v.session() as s:
            for m in destroyed:
                for ver in s.scalars(select(DocumentVersion).where(DocumentVersion.document_id == m.id)):
                    assert ver.wrapped_key is None and ver.text_ciphertext is None and ver.blob_key is None
                assert m.blob_key is not None and not self.v.blobs.exists(m.blob_key)
            assert audit.verify_chain(s).ok
        indexed = self.index.document_ids()
        for m in destroyed:
            assert m.id not in indexed
            assert not index_files_hold(self.v, m.term), f"postings of destroyed document {m.id} remain on disk"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}  # legal's search token outlives the days the machine moves on


def test_workflows_keep_their_invariants(vault: Vault, people: People, index: SearchIndex, api: Api) -> None:
    users: dict[str, Any] = {
        "arch1": people.archivist, "arch2": people.make("arch2", "archivist"), "emp1": people.employee,
        "emp2": people.make("emp2", "employee"), "manager": people.manager,
        "manager2": people.make("manager2", "manager"), "legal": people.legal, "system": people.system,
    }
    run_state_machine_as_test(
        lambda: Workflows(vault, users, index, api),
        settings=settings(max_examples=25, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )

