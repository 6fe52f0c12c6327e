"""The customer card's rules on PostgreSQL: the SQLite modules' tests, run with tests/pg's `vault` fixture
(a fresh PostgreSQL database migrated from empty by migration 0008 and those before it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, People
from tests.integration import test_card_reviews_and_keys as reviews
from tests.integration import test_customer_card as card
from tests.support.postgres import PostgresServer


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}  # tokens outlive the months the clock moves on


# kinds, ID numbers (one dossier per number: a unique digest), masking, edits, history, lookup, clearance
test_an_individual_gets_birth_date_and_gender_from_a_valid_id_number = \
    card.test_an_individual_gets_birth_date_and_gender_from_a_valid_id_number
test_a_wrong_id_number_is_refused_naming_the_field_and_creates_nothing = \
    card.test_a_wrong_id_number_is_refused_naming_the_field_and_creates_nothing
test_one_dossier_per_id_number_however_it_is_typed = card.test_one_dossier_per_id_number_however_it_is_typed
test_an_employee_who_is_not_the_owner_sees_sensitive_fields_masked = \
    card.test_an_employee_who_is_not_the_owner_sees_sensitive_fields_masked
test_the_owner_and_content_roles_read_in_full_and_each_such_read_is_audited = \
    card.test_the_owner_and_content_roles_read_in_full_and_each_such_read_is_audited
test_an_edit_without_a_reason_is_refused_and_changes_nothing = \
    card.test_an_edit_without_a_reason_is_refused_and_changes_nothing
test_bad_card_values_are_refused_by_name = card.test_bad_card_values_are_refused_by_name
test_only_the_owner_backup_owner_or_an_archivist_edits = card.test_only_the_owner_backup_owner_or_an_archivist_edits
test_the_history_tells_who_when_what_and_why_and_never_a_sensitive_value = \
    card.test_the_history_tells_who_when_what_and_why_and_never_a_sensitive_value
test_lookup_finds_the_holder_of_a_value_within_clearance_only = \
    card.test_lookup_finds_the_holder_of_a_value_within_clearance_only
test_card_and_history_above_clearance_are_not_found = card.test_card_and_history_above_clearance_are_not_found
test_missing_card_fields_join_the_missing_document_types = card.test_missing_card_fields_join_the_missing_document_types
test_a_change_of_owner_waits_for_a_manager_who_did_not_ask = \
    card.test_a_change_of_owner_waits_for_a_manager_who_did_not_ask

# reviews, reminders, key rotation, destruction
test_a_review_falls_due_after_its_grades_interval_and_is_queued_for_the_right_people = \
    reviews.test_a_review_falls_due_after_its_grades_interval_and_is_queued_for_the_right_people
test_a_review_changes_the_grade_with_a_reason_and_the_history_shows_it = \
    reviews.test_a_review_changes_the_grade_with_a_reason_and_the_history_shows_it
test_the_owner_is_reminded_once_before_a_review_falls_due = \
    reviews.test_the_owner_is_reminded_once_before_a_review_falls_due
test_key_rotation_rewraps_the_card_keys_and_the_values_still_read = \
    reviews.test_key_rotation_rewraps_the_card_keys_and_the_values_still_read
test_destroying_a_closed_dossiers_last_documents_erases_its_card_values = \
    reviews.test_destroying_a_closed_dossiers_last_documents_erases_its_card_values


# values no other test uses, so a find in the shared cluster's files can only be this test's leak
PG_ID = "440306197711293830"
PG_ACCOUNT = "6217995550000719426"
PG_PHONE = "13911229876"
PG_ADDRESS = "深圳市南山区科技园测试路17号"


def test_no_sensitive_value_is_in_the_postgresql_data_directory_after_a_checkpoint(
        api: Api, people: People, pg_server: PostgresServer) -> None:
    d = api.new_dossier(people.archivist, customer_name="钱七", customer_kind="individual", id_number=PG_ID,
                        owner="archivist")
    r = api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}/card",
                  json={"fields": {"bank_account": PG_ACCOUNT, "phone": PG_PHONE, "address": PG_ADDRESS},
                        "reason": "登记"})
    assert r.status_code == 200 and r.get_json()["fields"]["bank_account"] == PG_ACCOUNT
    assert api.post(people.employee, "/api/v1/lookup", json={"id_number": PG_ID}).get_json()["items"]
    pg_server.execute("CHECKPOINT")  # the WAL's pages written into the tables' files too
    secrets = [x.encode("utf-8") for x in (PG_ID, PG_ACCOUNT, PG_PHONE, PG_ADDRESS)]
    files = [p for p in Path(pg_server.data_dir).rglob("*") if p.is_file()] + [Path(pg_server.log_path)]
    assert len(files) > 100, "not the data directory"
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError:  # a file the server removed meanwhile
            continue
        for secret in secrets:
            assert secret not in raw, f"{secret!r} in {path}"
