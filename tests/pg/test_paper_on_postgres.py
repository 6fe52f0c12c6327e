"""Scanning intake and stock-takes, re-run unchanged on PostgreSQL (see test_core_api_on_postgres.py)."""

from __future__ import annotations

from tests.integration import test_intake as intake
from tests.integration import test_stocktake as stocktake

test_a_three_dossier_stack_is_split_and_filed_into_the_right_dossiers = \
    intake.test_a_three_dossier_stack_is_split_and_filed_into_the_right_dossiers
test_the_same_stack_again_files_nothing_twice = intake.test_the_same_stack_again_files_nothing_twice
test_an_unfiled_part_is_seen_assigned_and_then_leaves_the_inbox = \
    intake.test_an_unfiled_part_is_seen_assigned_and_then_leaves_the_inbox
test_a_cabinet_stocktake_sorts_every_dossier_and_keeps_the_record = \
    stocktake.test_a_cabinet_stocktake_sorts_every_dossier_and_keeps_the_record
