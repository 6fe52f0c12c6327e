"""Every page each role reaches by links, in Chinese and English, over an archive with every state in it.

The crawl (Flask test client) follows the same-origin GET links from the home page and asserts what a
person would notice: no server error, no entity escaped twice, no English catalogue sentence left in the
Chinese pages. The narrow-screen check opens the same pages in headless Chromium at 390 px wide.
"""

from __future__ import annotations

import html
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import load_settings
from tests.conftest import PASSWORD, Api, People
from tests.integration.test_pages import sign_in
from tests.support.chromium import sign_in as sign_in_browser
from tests.support.seeded_archive import ROLES, SECRET_NAME, Seeded, seed_archive
from tests.support.serve import app_in_thread
from vault.clock import FixedClock
from vault.core import Vault, ensure_home
from web.bootstrap import open_runtime

MAX_PAGES = 150  # per role and language: the seeded archive has far fewer distinct pages
# GET forms the crawl submits once, as a person would: searches that find things and one that finds nothing
FORM_STARTS = ("/search?q=合同", "/search?q=Export", "/search?q=没有这个词")
DOUBLE_ESCAPED = re.compile(r"&amp;(?:amp|lt|gt|quot|#)")
HREF = re.compile(r'\shref="([^"]*)"')
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")


@dataclass
class World:
    vault: Vault
    app: Flask
    seeded: Seeded
    crawls: dict[tuple[str, str], Crawl] = field(default_factory=dict)


@dataclass
class Crawl:
    """What one person saw: status per visited URL and the HTML of each page."""

    statuses: dict[str, int] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from web import create_app

    home = tmp_path_factory.mktemp("crawl") / "home"
    settings = load_settings({"home": str(home), "token_ttl_hours": 24 * 365 * 50}, environ={})
    ensure_home(settings)
    clock = FixedClock()
    runtime = open_runtime(settings, clock=clock, migrate_schema=True)
    vault = runtime.vault
    app = create_app(runtime=runtime)
    app.config.update(TESTING=True)
    people = People(vault)
    seeded = seed_archive(vault, runtime.index, Api(app.test_client(), people), people, clock)
    try:
        yield World(vault, app, seeded)
    finally:
        vault.close()


def _same_origin_links(body: str) -> list[str]:
    found = []
    for raw in HREF.findall(body):
        url = urldefrag(html.unescape(raw)).url
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not url.startswith("/"):
            continue  # other sites, mailto:, page-relative fragments
        if url.startswith("/static/") or "lang=" in url:
            continue  # the language switch would change the session's language mid-crawl
        found.append(url)
    return found


def crawl(app: Flask, username: str, lang: str) -> Crawl:
    """Sign in, choose the language, then breadth-first over the links (bounded)."""
    client: FlaskClient = app.test_client()
    assert sign_in(client, username).status_code == 302
    assert client.get(f"/?lang={lang}").status_code == 200
    seen: Crawl = Crawl()
    queue: deque[str] = deque(["/", *FORM_STARTS])
    while queue and len(seen.statuses) < MAX_PAGES:
        url = queue.popleft()
        if url in seen.statuses:
            continue
        r = client.get(url)
        seen.statuses[url] = r.status_code
        data = r.get_data()
        r.close()  # a streamed file (a download link) ends its request here
        if r.mimetype != "text/html":
            continue
        body = data.decode("utf-8")
        seen.pages[url] = body
        queue.extend(x for x in _same_origin_links(body) if x not in seen.statuses)
    assert len(seen.statuses) < MAX_PAGES, "the crawl hit its bound: raise it or look for a link loop"
    return seen


def crawled(world: World, role: str, lang: str) -> Crawl:
    key = (role, lang)
    if key not in world.crawls:
        world.crawls[key] = crawl(world.app, role, lang)
    return world.crawls[key]


def english_sentences() -> list[str]:
    """Literal parts of catalogue messages that read as English sentences and have a different zh text."""
    from babel.messages.pofile import read_po

    from web.pages.i18n import TRANSLATIONS

    with (TRANSLATIONS / "zh_CN/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh)
    needles = set()
    for message in catalog:
        if not message.id or not isinstance(message.id, str) or not message.string or message.string == message.id:
            continue
        for part in PLACEHOLDER.split(message.id):
            part = part.strip(" :·,;")
            words = part.split()
            if len(words) >= 4 or (len(words) >= 2 and part.endswith((".", "?", "!"))):
                needles.add(part)
    return sorted(needles)


def _text(body: str) -> str:
    """The page's words as the reader sees them: tags dropped, entities resolved, spaces collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return " ".join(html.unescape(body).split())


CASES = [(role, lang) for role in ROLES for lang in ("zh", "en")]


@pytest.mark.parametrize(("role", "lang"), CASES)
def test_every_linked_page_answers_without_a_server_error(world: World, role: str, lang: str) -> None:
    seen = crawled(world, role, lang)
    assert len(seen.pages) >= 3, seen.statuses
    errors = {url: status for url, status in seen.statuses.items() if status >= 500}
    assert errors == {}
    assert {url: s for url, s in seen.statuses.items() if s >= 400} == {}, "a link on a page leads nowhere"


def _escaped_twice(seen: Crawl, search: bool) -> dict[str, list[str]]:
    return {url: DOUBLE_ESCAPED.findall(body) for url, body in seen.pages.items()
            if url.startswith("/search") == search and DOUBLE_ESCAPED.search(body)}


@pytest.mark.parametrize(("role", "lang"), CASES)
def test_no_page_shows_an_entity_escaped_twice(world: World, role: str, lang: str) -> None:
    assert _escaped_twice(crawled(world, role, lang), search=False) == {}


@pytest.mark.parametrize("role", ["archivist", "employee"])
def test_search_results_show_no_entity_escaped_twice(world: World, role: str) -> None:
    seen = crawled(world, role, "zh")
    assert "Textile Import &amp;" in seen.pages["/search?q=Export"], "the snippet around '&' is on the page"
    assert _escaped_twice(seen, search=True) == {}


@pytest.mark.parametrize("role", ROLES)
def test_no_english_catalogue_sentence_is_left_in_a_chinese_page(world: World, role: str) -> None:
    needles = english_sentences()
    assert len(needles) > 50, "the catalogue check found too few sentences to mean anything"
    seen = crawled(world, role, "zh")
    texts = {url: _text(body) for url, body in seen.pages.items()}
    left = {url: found for url, text in texts.items() if (found := [n for n in needles if n in text])}
    assert left == {}


ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z,'’]*(?: [A-Za-z0-9][A-Za-z0-9,'’:-]*){3,}")
NOT_PROSE = {"A B C D"}  # the grade choices


QUOTED_DOCUMENT = re.compile(r'<pre class="doc-text" translate="no">.*?</pre>', re.S)


def test_no_service_message_is_left_in_english_in_a_chinese_page(world: World) -> None:
    """Beyond the catalogue: four English words in a row on a zh page (search snippets and the text read on a
    document's pages quote documents: not)."""
    seen = crawled(world, "archivist", "zh")
    english = {url: found for url, body in seen.pages.items() if not url.startswith("/search")
               if (found := sorted(set(ENGLISH_RUN.findall(_text(QUOTED_DOCUMENT.sub(" ", body)))) - NOT_PROSE))}
    assert english == {}


def test_nothing_above_the_readers_clearance_appears_on_any_page(world: World) -> None:
    seen = crawled(world, "legal_low", "zh")
    assert f"/dossiers/{world.seeded.dossiers['secret']}" not in seen.pages
    leaks = {url: SECRET_NAME for url, body in seen.pages.items() if SECRET_NAME in _text(body)}
    assert leaks == {}


def test_the_crawl_reaches_every_state_of_the_seeded_archive(world: World) -> None:
    """The dataset is worth crawling: the pages of each state are among the ones visited."""
    s = world.seeded
    archivist = crawled(world, "archivist", "zh")
    for doc in ("indexed", "failed", "destroyed", "held", "due"):
        assert f"/documents/{s.documents[doc]}" in archivist.pages, doc
    assert f"/destructions/{s.batches['executed']}/certificate.pdf" in archivist.statuses
    assert any(f'id="checkout-{s.checkouts["pending"]}"' in body for body in archivist.pages.values())
    manager = crawled(world, "manager", "zh")
    assert any(f'id="checkout-{s.checkouts["pending_secret"]}"' in body for body in manager.pages.values())
    assert "/destructions" in crawled(world, "legal", "zh").pages
    for state in ("sent", "returned", "checked", "received", "overdue"):
        assert f"/transfers/{s.transfers[state]}" in archivist.pages, state


def test_the_english_pages_do_show_the_sentences_the_chinese_check_looks_for(world: World) -> None:
    """The catalogue check can fail: the same pages in English contain many of its sentences."""
    needles = english_sentences()
    seen = crawled(world, "archivist", "en")
    texts = [_text(body) for body in seen.pages.values()]
    shown = {n for text in texts for n in needles if n in text}
    assert len(shown) >= 8, shown


NARROW = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[str]:
    """The crawl's app on a local port (werkzeug in a thread), for the browser."""
    with app_in_thread(world.app) as url:
        yield url


def _one_of_each(world: World, role: str) -> list[str]:
    """One page per kind of page the role reached (ids and page numbers aside), plus a document per state."""
    pages = [u for u in crawled(world, role, "zh").pages if not u.startswith("/api/")]
    kinds: dict[str, str] = {}
    for url in pages:
        kinds.setdefault(re.sub(r"\d+", "N", url), url)
    states = [f"/documents/{world.seeded.documents[s]}" for s in ("indexed", "failed", "destroyed")]
    return sorted(set(kinds.values()) | {u for u in states if u in pages})


@pytest.mark.e2e
@pytest.mark.parametrize("role", ROLES)
def test_no_page_scrolls_sideways_on_a_390_pixel_phone(world: World, served: str, browser: Any,
                                                       role: str) -> None:
    urls = _one_of_each(world, role)
    wide: dict[str, int] = {}
    ctx = browser.new_context(locale="zh-CN", viewport=NARROW, base_url=served)
    try:
        ctx.route(re.compile(r".*/pages/\d+\.png$"), lambda route: route.abort())  # page images: not layout
        page = sign_in_browser(ctx, role, PASSWORD)
        for lang in ("zh", "en"):
            page.goto(f"/?lang={lang}")
            for url in urls:
                page.goto(url)  # waits for the load event: the stylesheet is applied
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > NARROW["width"]:
                    wide[f"{lang} {url}"] = width
    finally:
        ctx.close()
    assert len(urls) >= 4, urls
    assert wide == {}, "these pages scroll sideways at 390 px"
