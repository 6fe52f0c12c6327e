"""A DOCX's text, read from the parts that hold text only: the same text `docx.Document()` gives, for less."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from indexer import extractors
from indexer.docx_text import NotAWordDocument, _text_boxes, docx_text
from indexer.extraction import ExtractionFailed
from tests.corpus import REALWORLD, SYNTHETIC
from vault import filetypes
from vault.errors import Invalid
from vault.filetypes import DOCX
from vault.filetypes.docx import check_docx_zip

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def whole_package_text(path: Path) -> str:
    """The text as python-docx reads it with the whole package loaded (`Paragraph.text`, `Section`'s
    headers and footers): what the extractor did before."""
    document = docx.Document(str(path))
    parts: list[str] = []
    seen: set[int] = set()
    for section in document.sections:
        for head in (section.first_page_header, section.header, section.even_page_header):
            if not head.is_linked_to_previous and id(head._element) not in seen:
                seen.add(id(head._element))
                parts.extend(_blocks(head.iter_inner_content()))
    parts.extend(_blocks(document.iter_inner_content()))
    parts.extend(_text_boxes(document.element.body))
    for section in document.sections:
        for foot in (section.first_page_footer, section.footer, section.even_page_footer):
            if not foot.is_linked_to_previous and id(foot._element) not in seen:
                seen.add(id(foot._element))
                parts.extend(_blocks(foot.iter_inner_content()))
    return "\n".join(p for p in parts if p.strip())


def _blocks(items: Iterator[Paragraph | Table]) -> Iterator[str]:
    for item in items:
        if isinstance(item, Paragraph):
            yield item.text
            continue
        for row in item.rows:
            cells: list[str] = []
            seen: set[int] = set()
            for cell in row.cells:
                if id(cell._tc) not in seen:
                    seen.add(id(cell._tc))
                    cells.append("\n".join(_blocks(cell.iter_inner_content())).strip())
            yield "\t".join(c for c in cells if c)


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def a_letter_with_everything(path: Path) -> Path:
    """Headers (first page, default, even) and footers, a second section with its own header and a third
    linked to it, tabs and breaks in a run, a hyperlink, a table with cells merged both ways and a nested
    table, and a text box."""
    document = docx.Document()
    document.settings.odd_and_even_pages_header_footer = True
    first = document.sections[0]
    first.different_first_page_header_footer = True
    first.first_page_header.paragraphs[0].text = "首页页眉 FIRSTHEAD"
    first.header.paragraphs[0].text = "页眉 HEADONE"
    first.even_page_header.paragraphs[0].text = "EVENHEAD"
    first.first_page_footer.paragraphs[0].text = "FIRSTFOOT"
    first.footer.paragraphs[0].text = "页脚 FOOTONE"
    paragraph = document.add_paragraph("正文 BODYONE ")
    run = paragraph.add_run("A")
    run.add_tab()
    run.add_text("B")
    run.add_break()
    run.add_text("C")
    link = etree.SubElement(paragraph._p, _w("hyperlink"), {f"{{{R}}}id": "rId99"})
    etree.SubElement(etree.SubElement(link, _w("r")), _w("t")).text = " LINKTEXT"
    table = document.add_table(rows=3, cols=3)
    for row in range(3):
        for col in range(3):
            table.cell(row, col).text = f"R{row}C{col}"
    table.cell(0, 0).merge(table.cell(0, 1))  # one cell across two columns
    table.cell(1, 2).merge(table.cell(2, 2))  # one cell down two rows
    inner = table.cell(2, 0).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "INNER1"
    inner.cell(0, 1).text = "INNER2"
    boxed = document.add_paragraph("BEFOREBOX")
    shape = etree.SubElement(etree.SubElement(boxed._p, _w("r")), _w("pict"))
    box = etree.SubElement(etree.SubElement(shape, "{urn:schemas-microsoft-com:vml}shape"),
                           "{urn:schemas-microsoft-com:vml}textbox")
    box_paragraph = etree.SubElement(etree.SubElement(box, _w("txbxContent")), _w("p"))
    etree.SubElement(etree.SubElement(box_paragraph, _w("r")), _w("t")).text = "BOXTEXT 文本框"
    second = document.add_section()
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "SECONDHEAD"
    document.add_paragraph("第二节 BODYTWO")
    document.add_section()  # its header and footer are linked to the second's: read once
    document.add_paragraph("BODYTHREE")
    document.save(str(path))
    return path


def test_a_letter_reads_headers_body_tables_boxes_and_footers_in_order_each_once(tmp_path: Path) -> None:
    text = docx_text(a_letter_with_everything(tmp_path / "letter.docx"))
    lines = text.split("\n")
    assert lines[:4] == ["首页页眉 FIRSTHEAD", "页眉 HEADONE", "EVENHEAD", "SECONDHEAD"]
    assert "正文 BODYONE A\tB" in lines and "C LINKTEXT" in lines  # a tab, a break, a hyperlink's text
    # a merged cell once per row, its paragraphs on lines of their own; one merged down shows in both rows
    assert "\nR0C0\nR0C1\tR0C2\nR1C0\tR1C1\tR1C2\nR2C2\n" in text
    assert "\nR2C0\nINNER1\tINNER2\tR2C1\tR1C2\nR2C2\n" in text  # the nested table inside its cell
    assert lines.index("BODYTHREE") < lines.index("BOXTEXT 文本框") < lines.index("FIRSTFOOT")
    assert lines[-2:] == ["FIRSTFOOT", "页脚 FOOTONE"]
    for once in ("SECONDHEAD", "BOXTEXT 文本框", "页脚 FOOTONE"):
        assert lines.count(once) == 1


def test_the_text_is_what_python_docx_reads_from_the_whole_package(tmp_path: Path) -> None:
    letter = a_letter_with_everything(tmp_path / "letter.docx")
    assert docx_text(letter) == whole_package_text(letter)


@pytest.mark.parametrize(
    "path", sorted([*REALWORLD.glob("*.docx"), *SYNTHETIC.rglob("*.docx")]), ids=lambda p: p.name
)
def test_every_corpus_docx_reads_as_python_docx_reads_it(path: Path) -> None:
    assert docx_text(path) == whole_package_text(path)


def _rewrite(path: Path, target: Path, parts: dict[str, bytes]) -> Path:
    """A copy of the package with some parts replaced."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info, parts.get(info.filename, source.read(info)))
    return target


def test_a_damaged_style_part_no_longer_hides_the_text(tmp_path: Path) -> None:
    """python-docx parses styles.xml on opening; text needs none of it, so a broken one costs nothing now."""
    letter = a_letter_with_everything(tmp_path / "letter.docx")
    damaged = _rewrite(letter, tmp_path / "damaged.docx", {"word/styles.xml": b"<w:styles><w:style>"})
    with pytest.raises(etree.XMLSyntaxError):
        docx.Document(str(damaged))
    assert "正文 BODYONE A\tB" in docx_text(damaged).split("\n")


def test_a_package_whose_main_part_is_not_a_word_document_is_refused_by_name(tmp_path: Path) -> None:
    letter = a_letter_with_everything(tmp_path / "letter.docx")
    with zipfile.ZipFile(letter) as zf:
        types = zf.read("[Content_Types].xml")
    macro_type = b"application/vnd.ms-word.template.macroEnabledTemplate.main+xml"
    changed = types.replace(b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                            macro_type)
    assert changed != types
    template = _rewrite(letter, tmp_path / "template.docx", {"[Content_Types].xml": changed})
    with pytest.raises(NotAWordDocument, match="macroEnabledTemplate"):
        docx_text(template)


def test_a_header_the_document_names_but_the_package_lacks_is_an_error_not_silence(tmp_path: Path) -> None:
    letter = a_letter_with_everything(tmp_path / "letter.docx")
    with zipfile.ZipFile(letter) as zf:
        rels = zf.read("word/_rels/document.xml.rels")
    root = etree.fromstring(rels)
    for rel in list(root):
        if rel.get("Type", "").endswith("/header"):
            root.remove(rel)
    broken = _rewrite(letter, tmp_path / "broken.docx", 
                      {"word/_rels/document.xml.rels": etree.tostring(root)})
    with pytest.raises(KeyError):
        docx_text(broken)
    with pytest.raises(KeyError):
        whole_package_text(broken)


DTD = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'


def test_a_dtd_in_any_part_the_text_is_read_from_is_refused_as_unsafe(tmp_path: Path) -> None:
    letter = a_letter_with_everything(tmp_path / "letter.docx")
    with zipfile.ZipFile(letter) as zf:
        header = next(n for n in zf.namelist() if n.startswith("word/header"))
        rels = zf.read("word/_rels/document.xml.rels")
    for part, data in ((header, DTD), ("word/_rels/document.xml.rels", rels.replace(b"?>", b"?><!DOCTYPE r>", 1))):
        hostile = _rewrite(letter, tmp_path / "hostile.docx", {part: data})
        with pytest.raises(Invalid, match="declares a DTD or entities") as refused:
            docx_text(hostile)
        assert refused.value.code == "unsafe_docx" and part in str(refused.value.message)


def test_a_docx_the_upload_saw_only_the_directory_of_is_checked_whole_by_the_extractor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DTD in a part that holds no text (styles.xml) is the upload's to refuse, and it does for a DOCX
    up to 64 MiB; above that the upload checks the ZIP directory alone, so the extractor checks every part."""
    letter = a_letter_with_everything(tmp_path / "letter.docx")
    styled = _rewrite(letter, tmp_path / "styled.docx", {"word/styles.xml": DTD})
    with pytest.raises(Invalid, match="word/styles.xml"):
        check_docx_zip(io.BytesIO(styled.read_bytes()))  # what the upload says
    job = {"path": str(styled), "mime": DOCX, "timeout_s": 30}
    assert "正文 BODYONE A\tB" in extractors.extract_here(dict(job))["text"]
    monkeypatch.setattr(filetypes, "WHOLE_DOCX_BYTES", styled.stat().st_size - 1)
    with pytest.raises(ExtractionFailed, match="word/styles.xml"):
        extractors.extract_here(dict(job))
