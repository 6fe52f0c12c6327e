"""The transfer story and item numbers, re-run unchanged on PostgreSQL (counters taken with UPDATE ...
RETURNING and a savepoint for a dossier's first number)."""

from __future__ import annotations

from tests.integration import test_transfers as transfers

settings_overrides = transfers.settings_overrides

test_a_transfer_is_sent_sent_back_completed_received_and_registered_as_numbered_documents = \
    transfers.test_a_transfer_is_sent_sent_back_completed_received_and_registered_as_numbered_documents
test_item_numbers_run_on_across_received_papers_and_uploads_per_dossier = \
    transfers.test_item_numbers_run_on_across_received_papers_and_uploads_per_dossier
test_the_deadline_counts_working_days_and_overdue_transfers_notify_the_sender_and_managers = \
    transfers.test_the_deadline_counts_working_days_and_overdue_transfers_notify_the_sender_and_managers
