"""The watched folder's crash and resume, and a queued stack, re-run unchanged on PostgreSQL."""

from __future__ import annotations

from tests.integration import test_intake_folder as folder

settings_overrides = folder.settings_overrides  # the folder, and every stack counted as large
test_a_crash_in_the_middle_resumes_without_filing_twice = folder.test_a_crash_in_the_middle_resumes_without_filing_twice
test_a_large_stack_is_queued_and_the_worker_files_it = folder.test_a_large_stack_is_queued_and_the_worker_files_it
