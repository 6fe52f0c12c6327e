"""The PostgreSQL tier: the SQLite integration tests that matter most, re-run on a real PostgreSQL server.

Every test here gets the `vault` fixture of tests/pg/conftest.py: a fresh database copied from one migrated
to head. Most modules collect test functions of tests/integration (and tests/ops) by name, so the same
assertions hold on both databases; what the SQLite tier reaches only through a module-scoped SQLite vault
or through `dossier` commands that read the database from the home's settings is written here, calling
the same service functions.

Where each service and API family is covered on PostgreSQL (test_ prefixes and _on_postgres left out):

    vault/services (web/api)              module here            what
    ------------------------------------  ---------------------  ------------------------------------------------
    dossiers (api/dossiers)               core_api               create, archive numbers, clearance, paging, audit
    documents (api/documents)             core_api               streamed encrypted upload, limits, versions, reads
    users (api/core: auth, me, health)    core_api, services     tokens, lockout, health; leaving with a hand-over
    sessions, grants, tokens (api/admin)  accounts               sign-out ends the row, throttle by address and
                                                                 name, second-person approval, last admin, tokens
    audit chain (api/audit_routes)        core_api               verify; edited, deleted, truncated events found
    audit_log list (api/audit_routes)     services, workflows    filters by document, action, actor, ids out of range
    checkouts (api/checkouts)             workflows, services    request to return, self-approval, overdue, paper;
                                                                 rejection, copy checkouts
    stamping                              services               stamped PDF of a copy checkout
    notifications (api/notifications)     services, workflows    rejection and overdue notices; own-only read marks
    holds (api/holds)                     workflows              dossier holds, a hold stopping an execution
    destruction (api/destructions)        workflows              proposal checks, two approvals, crypto-shredding
    certificate                           services               drawn at execution, stored, served as stored
    retention (api/retention)             services, workflows    rules edited by an admin, due list with holds
    reports (api/notifications)           services               summary counts, clearance limit; home page charts
    search (api/search, indexer)          services, workflows    access scoping, filters, snippets, audited count;
                                                                 clearance raised after indexing; purge on destroy
    keys                                  services               rotation via `dossier keys rotate` on this
                                                                 database, an interrupted rotation resumed
    fixity                                services, backup       clean, tampered, missing, undecryptable, orphans
    backup, register                      backup                 pg_dump/pg_restore, replayed destructions
    index worker                          workers, workflows     four processes, 500 jobs; the overdue loop
    schema                                migrations             empty to head, upgrade with data
    audit head lock                       concurrent_writers     many connections, one gap-free chain
    pages (web/pages)                     services               each role's pages, a checkout through the forms
    contacts, customer_records,           customer_records       who reads, sees, adds (the matrix); corrections;
    follow_ups (api/customer_file)        complaints; yearly totals; follow-up and overdue
                                                                 notices; bad input; hand-over on leaving
    transfers, item_numbers (api/paper)   transfers              send, send back, receive, register, item numbers,
                                                                 overdue notices
    intake (api/intake, indexer/intake)   paper                  a 3-dossier stack, duplicates, the unfiled inbox
    intake folder, queued stacks          intake_folder          crash and resume, a large stack by the worker
    stocktake (api/stocktakes)            paper                  scan, tick, clearance, the kept record
    cards, lookup, reviews,               customer_card          kinds and ID numbers, masking, edits with reasons,
    owner_changes (api/cards)             history, lookup in clearance, reviews, reminders,
                                                                 card keys rotated and erased, no plaintext on disk

Not re-run here: tests that run `dossier` through tests/support's `run_cli` (home only, so SQLite) or as a
subprocess of a fresh home (tests/integration/test_cli.py); the search corpus module (its own SQLite vault,
OCR of the whole corpus); engine-level tests with no database (blob stores, extraction, index engines).
"""
