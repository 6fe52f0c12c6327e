"""The core API flows, re-run unchanged on PostgreSQL: dossiers, documents, audit through HTTP.

Each name below is a test function of the SQLite integration modules; collected here, it runs with
the `vault` fixture of tests/pg/conftest.py, so the same assertions hold on a real PostgreSQL
database migrated from empty. The selection covers every endpoint family while keeping the tier
fast (each test signs users in with argon2, ~2 s each). Workflows are in test_workflows_on_postgres.py,
the other services (search, reports, keys, fixity, ...) and the pages in test_services_on_postgres.py;
tests/pg/__init__.py has the table of where each service is covered.
"""

from __future__ import annotations

from tests.integration import test_audit_chain as audit_chain
from tests.integration import test_documents_api as documents_api
from tests.integration import test_dossiers_api as dossiers_api

# dossiers: creation, archive numbers, validation, uniqueness, visibility, audited changes, paging
test_an_archivist_creates_a_dossier_with_an_archive_number = \
    dossiers_api.test_an_archivist_creates_a_dossier_with_an_archive_number
test_archive_numbers_are_sequential_and_never_reused = dossiers_api.test_archive_numbers_are_sequential_and_never_reused
test_one_customer_one_dossier_a_second_code_is_a_409 = dossiers_api.test_one_customer_one_dossier_a_second_code_is_a_409
test_a_secret_dossier_is_invisible_below_its_clearance = \
    dossiers_api.test_a_secret_dossier_is_invisible_below_its_clearance
test_list_filters_by_name_and_grade_with_paging = dossiers_api.test_list_filters_by_name_and_grade_with_paging
test_each_change_is_audited_with_old_and_new_value = dossiers_api.test_each_change_is_audited_with_old_and_new_value

# documents: streamed encrypted upload of the whole synthetic corpus, duplicates, limits, reads, versions
test_every_synthetic_file_uploads_and_reads_back_byte_for_byte = \
    documents_api.test_every_synthetic_file_uploads_and_reads_back_byte_for_byte
test_the_same_content_twice_in_one_dossier_is_a_409_with_existing_id = \
    documents_api.test_the_same_content_twice_in_one_dossier_is_a_409_with_existing_id
test_a_stream_that_grows_past_the_limit_is_cut_off_with_nothing_stored = \
    documents_api.test_a_stream_that_grows_past_the_limit_is_cut_off_with_nothing_stored
test_an_invalid_doc_type_after_the_file_leaves_no_blob = \
    documents_api.test_an_invalid_doc_type_after_the_file_leaves_no_blob
test_every_read_of_content_is_audited = documents_api.test_every_read_of_content_is_audited
test_a_new_version_replaces_the_current_and_old_ones_stay_for_archivists = \
    documents_api.test_a_new_version_replaces_the_current_and_old_ones_stay_for_archivists
test_credit_reports_expire_a_year_after_their_date_and_show_as_stale = \
    documents_api.test_credit_reports_expire_a_year_after_their_date_and_show_as_stale
test_tampered_ciphertext_is_refused_not_served = documents_api.test_tampered_ciphertext_is_refused_not_served
test_wrong_passwords_lock_the_name_out_with_429 = documents_api.test_wrong_passwords_lock_the_name_out_with_429
test_health_reports_each_part = documents_api.test_health_reports_each_part

# audit: the hash chain and its tamper detection
test_an_untouched_chain_verifies = audit_chain.test_an_untouched_chain_verifies
test_an_edited_event_is_found = audit_chain.test_an_edited_event_is_found
test_a_deleted_event_is_found = audit_chain.test_a_deleted_event_is_found
test_a_truncated_chain_is_found = audit_chain.test_a_truncated_chain_is_found
