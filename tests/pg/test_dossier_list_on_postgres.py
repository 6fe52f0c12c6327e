"""The dossier list's filters, sorts, bad values and clearance on PostgreSQL: the SQLite module's tests, run
with tests/pg's `vault` fixture (a fresh PostgreSQL database migrated from empty, migration 0014 included)."""

from __future__ import annotations

from tests.integration import test_dossier_list_filters as lst
from tests.integration.test_dossier_list_filters import seeded, settings_overrides

__all__ = ["seeded", "settings_overrides"]  # the SQLite module's fixtures: the same rows, the same settings

test_each_filter_narrows_the_list_to_the_matching_dossiers = \
    lst.test_each_filter_narrows_the_list_to_the_matching_dossiers
test_review_due_lists_reviews_due_within_n_days_and_overdue_ones = \
    lst.test_review_due_lists_reviews_due_within_n_days_and_overdue_ones
test_incomplete_means_a_missing_required_document_type_or_card_field = \
    lst.test_incomplete_means_a_missing_required_document_type_or_card_field
test_incomplete_follows_the_destruction_and_the_upload_of_a_required_document = \
    lst.test_incomplete_follows_the_destruction_and_the_upload_of_a_required_document
test_changed_required_fields_apply_to_every_dossier_from_the_next_start = \
    lst.test_changed_required_fields_apply_to_every_dossier_from_the_next_start
test_sort_by_name_is_pinyin_order_with_latin_names_among_them = \
    lst.test_sort_by_name_is_pinyin_order_with_latin_names_among_them
test_sort_by_archive_number_and_by_last_update_both_ways = lst.test_sort_by_archive_number_and_by_last_update_both_ways
test_an_unknown_filter_value_or_sort_key_is_a_422_naming_the_field_and_the_allowed_values = \
    lst.test_an_unknown_filter_value_or_sort_key_is_a_422_naming_the_field_and_the_allowed_values
test_nothing_above_clearance_is_listed_or_counted_whatever_the_filter = \
    lst.test_nothing_above_clearance_is_listed_or_counted_whatever_the_filter
