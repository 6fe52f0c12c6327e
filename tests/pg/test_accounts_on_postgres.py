"""Sessions, sign-in throttling, account requests and API tokens, re-run unchanged on PostgreSQL
(the throttle's counts and latest-failure times, the session rows and the grant requests are queries
whose SQL differs between the two databases)."""

from __future__ import annotations

from tests.integration import test_accounts as accounts
from tests.integration import test_sign_in_security as sign_in_security

test_a_copied_session_cookie_stops_working_after_sign_out = \
    sign_in_security.test_a_copied_session_cookie_stops_working_after_sign_out
test_the_wait_grows_and_the_right_password_after_it_clears_the_count = \
    sign_in_security.test_the_wait_grows_and_the_right_password_after_it_clears_the_count
test_one_address_trying_many_names_is_limited_whatever_the_names = \
    sign_in_security.test_one_address_trying_many_names_is_limited_whatever_the_names
test_an_admin_alone_cannot_make_an_archivist_it_can_sign_in_as = \
    accounts.test_an_admin_alone_cannot_make_an_archivist_it_can_sign_in_as
test_the_last_active_admin_can_be_neither_deactivated_nor_demoted = \
    accounts.test_the_last_active_admin_can_be_neither_deactivated_nor_demoted
test_tokens_are_listed_and_revoked_by_their_owner_and_by_an_admin = \
    accounts.test_tokens_are_listed_and_revoked_by_their_owner_and_by_an_admin
