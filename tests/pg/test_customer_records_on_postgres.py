"""Contacts and records (issue 12) re-run unchanged on PostgreSQL: each name is a test of the SQLite modules,
collected here with the `vault` fixture of tests/pg/conftest.py. Left out: the grep of the SQLite files
(SQLite only) and the command-line handover (the command reads the home's SQLite settings); the handover
is checked here through the service the command calls."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, People
from tests.integration import test_customer_import_export as imports
from tests.integration import test_customer_records as records
from tests.integration import test_customer_records_matrix as matrix
from vault.core import Vault
from vault.relationship_models import CustomerRecord
from vault.services.checkouts import deactivate_with_handover

test_the_owner_adds_a_contact_whose_phone_and_email_only_content_readers_see = \
    records.test_the_owner_adds_a_contact_whose_phone_and_email_only_content_readers_see
test_only_the_owner_and_archivists_add_contacts_and_records = \
    records.test_only_the_owner_and_archivists_add_contacts_and_records
test_a_record_is_never_edited_a_correction_points_at_it_and_the_original_stays = \
    records.test_a_record_is_never_edited_a_correction_points_at_it_and_the_original_stays
test_others_who_see_the_dossier_learn_only_kind_date_and_staff = \
    records.test_others_who_see_the_dossier_learn_only_kind_date_and_staff
test_every_read_of_records_and_contacts_is_audited = records.test_every_read_of_records_and_contacts_is_audited
test_a_complaint_goes_received_handling_resolved_closed_with_result_and_satisfaction = \
    records.test_a_complaint_goes_received_handling_resolved_closed_with_result_and_satisfaction
test_transactions_keep_exact_amounts_and_total_per_year_without_corrected_ones = \
    records.test_transactions_keep_exact_amounts_and_total_per_year_without_corrected_ones
test_a_follow_up_is_the_assignees_until_a_record_follows_it_up = \
    records.test_a_follow_up_is_the_assignees_until_a_record_follows_it_up
test_an_overdue_complaint_notifies_its_handler_and_the_managers_once = \
    records.test_an_overdue_complaint_notifies_its_handler_and_the_managers_once
test_bad_input_is_refused_naming_the_field_and_nothing_is_written = \
    records.test_bad_input_is_refused_naming_the_field_and_nothing_is_written
test_a_bad_contact_is_refused_naming_the_field_and_nothing_is_written = \
    records.test_a_bad_contact_is_refused_naming_the_field_and_nothing_is_written
test_a_document_of_another_dossier_is_refused_in_chinese_too = \
    records.test_a_document_of_another_dossier_is_refused_in_chinese_too
test_who_reads_sees_adds_or_is_told_nothing_for_every_role_clearance_owner_and_checkout = \
    matrix.test_who_reads_sees_adds_or_is_told_nothing_for_every_role_clearance_owner_and_checkout


def test_leaving_hands_open_follow_ups_and_complaints_to_the_successor(api: Api, people: People,
                                                                       vault: Vault) -> None:
    d = records.owned_dossier(api, people)
    successor = people.make("successor", "employee")
    people.make("leaver", "employee")
    f: Any = records.add(api, people.employee, d["id"], next_action="回访", next_action_due="2026-02-01",
                         assignee="leaver").get_json()
    c: Any = records.add(api, people.employee, d["id"], kind="complaint", summary="投诉", handler="leaver").get_json()
    with vault.session() as s:
        out = deactivate_with_handover(vault, s, people.system, "leaver", "successor")
    assert out["follow_ups_moved"] == sorted([f["id"], c["id"]])
    with vault.session() as s:
        assert s.get(CustomerRecord, f["id"]).assignee_id == successor.id  # type: ignore[union-attr]
        assert s.get(CustomerRecord, c["id"]).handler_id == successor.id  # type: ignore[union-attr]


# the spreadsheet import of contacts and records: natural keys, refusals and the masked export on PostgreSQL
test_contacts_and_records_import_idempotently_by_their_natural_keys_and_refuse_bad_rows = \
    imports.test_contacts_and_records_import_idempotently_by_their_natural_keys_and_refuse_bad_rows
test_the_customer_import_creates_then_a_second_run_updates_the_same_dossiers = \
    imports.test_the_real_run_creates_then_a_second_run_updates_the_same_dossiers
test_each_bad_customer_row_is_refused_naming_its_field_and_the_good_rows_go_in = \
    imports.test_each_bad_row_is_refused_naming_its_field_and_the_good_rows_go_in
test_a_customer_import_of_several_batches_is_audited_in_one_chain_and_idempotent = \
    imports.test_an_import_of_several_batches_is_audited_in_one_chain_and_idempotent
