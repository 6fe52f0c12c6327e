"""The workflow story, re-run unchanged on PostgreSQL: checkout, overdue, legal holds, destruction.

Each name below is a test function of the SQLite integration modules; collected here, it runs with
the `vault` fixture of tests/pg/conftest.py (a fresh PostgreSQL database migrated from empty). The
selection is the heart of each workflow and the checks that repeat inside a transaction; tests that
drive the `dossier` command line are left out, because the command reads the database from the
home's settings, which name SQLite here (test_services_on_postgres.py calls the services those commands
call instead: overdue notices, hand-over on leaving, verify). tests/pg/__init__.py has the table of where
each service is covered.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration import test_checkouts as checkouts
from tests.integration import test_destruction as destruction
from tests.integration import test_holds as holds
from tests.integration import test_worker as worker


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}  # as in the modules: tokens outlive the days the clock moves on


# checkout: request, approval, reading, return; no self-approval; access ending at the due date; overdue
test_the_whole_story_request_approve_read_return_and_access_ends = \
    checkouts.test_the_whole_story_request_approve_read_return_and_access_ends
test_nobody_approves_their_own_request = checkouts.test_nobody_approves_their_own_request
test_access_ends_automatically_at_the_due_date_and_the_checkout_shows_overdue = \
    checkouts.test_access_ends_automatically_at_the_due_date_and_the_checkout_shows_overdue
test_a_physical_checkout_is_active_at_handover_and_closed_when_received = \
    checkouts.test_a_physical_checkout_is_active_at_handover_and_closed_when_received
test_the_worker_loops_overdue_check_marks_a_checkout_past_its_due_date_once = \
    worker.test_the_worker_loops_overdue_check_marks_a_checkout_past_its_due_date_once

# legal holds: shown everywhere, and stopping an approved destruction at execution
test_legal_places_a_dossier_hold_and_it_shows_on_the_dossier_and_every_document = \
    holds.test_legal_places_a_dossier_hold_and_it_shows_on_the_dossier_and_every_document
test_a_hold_placed_after_approval_stops_the_execution_and_nothing_is_erased = \
    holds.test_a_hold_placed_after_approval_stops_the_execution_and_nothing_is_erased

# destruction: proposal checks, two approvals, execution (crypto-shredding, index purge), the re-check inside
test_a_proposal_names_each_document_under_hold_or_not_yet_due = \
    destruction.test_a_proposal_names_each_document_under_hold_or_not_yet_due
test_approval_needs_a_manager_and_legal_two_people_neither_the_proposer = \
    destruction.test_approval_needs_a_manager_and_legal_two_people_neither_the_proposer
test_execution_crypto_shreds_deletes_blobs_purges_the_index_and_leaves_a_tombstone = \
    destruction.test_execution_crypto_shreds_deletes_blobs_purges_the_index_and_leaves_a_tombstone
test_execution_repeats_the_due_check_inside_its_transaction = \
    destruction.test_execution_repeats_the_due_check_inside_its_transaction
