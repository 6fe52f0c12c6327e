"""A DOCX package read for its text alone: the main document and the headers and footers it names.

`docx.Document()` inflates every part of a package and parses each one python-docx knows (styles,
numbering, settings...), although text needs none of them. Word's own template carries 830 KB of
style XML for a letter of 2 KB, so opening a document cost 9 ms where its text takes 0.2 ms. Here
the package's relationships are followed as python-docx follows them, only the parts that hold text
are inflated, and each is parsed by python-docx's own parser (its element classes, its
`resolve_entities=False`), so paragraphs, tables, merged cells and hyperlinks read exactly as
python-docx reads them. The package is opened by `open_docx_zip` (its central directory checked) and
each part it reads comes through `read_xml_part`, which refuses DTDs and entity declarations.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from docx.blkcntnr import BlockItemContainer
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TARGET_MODE as RTM
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PACKAGE_URI, PackURI
from docx.oxml.ns import qn
from docx.oxml.parser import parse_xml
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from vault.filetypes.docx import open_docx_zip, read_xml_part

if TYPE_CHECKING:
    from docx.types import ProvidesStoryPart

_PKG = "http://schemas.openxmlformats.org/package/2006/"
_RELATIONSHIP = f"{{{_PKG}relationships}}Relationship"
_DEFAULT = f"{{{_PKG}content-types}}Default"
_OVERRIDE = f"{{{_PKG}content-types}}Override"
_R_ID = qn("r:id")
_W_TYPE = qn("w:type")
_TXBX = qn("w:txbxContent")
_W_P = qn("w:p")
_W_T = qn("w:t")
_W_R = qn("w:r")
_RUN_HOLDERS = frozenset((_W_R, qn("w:hyperlink")))
_RUN_TEXT = frozenset(qn(f"w:{tag}") for tag in ("br", "cr", "noBreakHyphen", "ptab", "t", "tab"))
# What the package's own XML (relationships, content types) is parsed with: no DTD, entities or network.
_PLAIN = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True)
# A section's headers, then its footers, in the order python-docx's Section names them.
_KINDS = ("first", "default", "even")
# The parent python-docx's blocks would ask for their part (images, styles); reading text never does.
_NO_PART = cast("ProvidesStoryPart", None)


class NotAWordDocument(ValueError):
    """The package's main part is not a Word document (a template or a macro-enabled file, say)."""


def docx_text(path: Path) -> str:
    """The text of a DOCX: headers, body paragraphs and table rows, text boxes, footers; one block per line.
    Raises Invalid for a package the checks refuse, NotAWordDocument, KeyError for a missing part."""
    with open_docx_zip(path) as zf:
        package = _Package(zf)
        document = package.main_document()
        body = document.find(qn("w:body"))
        parts: list[str] = []
        seen: set[int] = set()
        sections = document.xpath("./w:body/w:p/w:pPr/w:sectPr | ./w:body/w:sectPr")
        for section in sections:
            parts.extend(package.header_footer_blocks(section, "w:headerReference", seen))
        if body is not None:
            parts.extend(_blocks(BlockItemContainer(body, _NO_PART).iter_inner_content()))
            parts.extend(_text_boxes(body))
        for section in sections:
            parts.extend(package.header_footer_blocks(section, "w:footerReference", seen))
    return "\n".join(p for p in parts if p.strip())


def _blocks(items: Iterator[Paragraph | Table]) -> Iterator[str]:
    """Paragraph texts and table rows in document order (nested tables included)."""
    for item in items:
        if isinstance(item, Paragraph):
            yield _paragraph_text(item._p)
        else:
            yield from _table(item)


def _paragraph_text(p: Any) -> str:
    """`Paragraph.text`, with the children walked instead of two XPath queries per paragraph and run (which
    were most of the time a letter's text took): runs and hyperlinks' runs, each run's text, breaks and tabs
    as python-docx's element classes spell them."""
    return "".join(
        _run_text(child) if child.tag == _W_R else "".join(_run_text(r) for r in child if r.tag == _W_R)
        for child in p if child.tag in _RUN_HOLDERS
    )


def _run_text(r: Any) -> str:
    return "".join(str(e) for e in r if e.tag in _RUN_TEXT)


def _table(table: Table) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell appears once per grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append("\n".join(_blocks(cell.iter_inner_content())).strip())
        yield "\t".join(c for c in cells if c)


def _text_boxes(body: Any) -> Iterator[str]:
    """Text in text boxes (not part of paragraph text in python-docx); each box once."""
    seen: set[str] = set()
    for box in body.iter(_TXBX):
        for para in box.iter(_W_P):
            text = "".join(t.text or "" for t in para.iter(_W_T)).strip()
            if text and text not in seen:
                seen.add(text)
                yield text


class _Package:
    """The few parts of one open package that hold text, found through its relationships (partnames resolved
    by python-docx's `PackURI`, as `docx.Document()` resolves them)."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.parsed: dict[str, Any] = {}
        self.document_rels: dict[str, PackURI] = {}

    def main_document(self) -> Any:
        """The main document part's root element (python-docx's CT_Document), as `docx.Document()` finds it."""
        types = etree.fromstring(read_xml_part(self.zf, "[Content_Types].xml"), _PLAIN)
        main = self._relationships(PACKAGE_URI)[1].get(RT.OFFICE_DOCUMENT)
        if main is None:
            raise KeyError("no relationship of type 'officeDocument' in the package")
        content_type = _content_type(types, main)
        if content_type != CT.WML_DOCUMENT_MAIN:
            raise NotAWordDocument(f"file is not a Word file, content type is '{content_type}'")
        self.document_rels = self._relationships(main)[0]
        return self._parse(main)

    def header_footer_blocks(self, section: Any, reference: str, seen: set[int]) -> Iterator[str]:
        """The blocks of a section's own first-page, default and even-page header (or footer), each part once."""
        references: dict[str, Any] = {}
        for ref in section.findall(qn(reference)):
            references.setdefault(ref.get(_W_TYPE), ref)  # the first of a kind, as python-docx takes it
        for kind in _KINDS:
            ref = references.get(kind)
            if ref is None:  # linked to the previous section's: read there
                continue
            element = self._parse(self.document_rels[ref.get(_R_ID)])
            if id(element) not in seen:
                seen.add(id(element))
                yield from _blocks(BlockItemContainer(element, _NO_PART).iter_inner_content())

    def _parse(self, partname: PackURI) -> Any:
        if partname not in self.parsed:
            self.parsed[partname] = parse_xml(read_xml_part(self.zf, partname.membername))
        return self.parsed[partname]

    def _relationships(self, source: PackURI) -> tuple[dict[str, PackURI], dict[str, PackURI]]:
        """A part's internal relationships: target partnames by id, and the first of each type."""
        by_id: dict[str, PackURI] = {}
        by_type: dict[str, PackURI] = {}
        try:
            root = etree.fromstring(read_xml_part(self.zf, source.rels_uri.membername), _PLAIN)
        except KeyError:  # a part without relationships
            return by_id, by_type
        for rel in root.iter(_RELATIONSHIP):
            if rel.get("TargetMode") != RTM.EXTERNAL:
                target = PackURI.from_rel_ref(source.baseURI, rel.get("Target") or "")
                by_id[rel.get("Id") or ""] = target
                by_type.setdefault(rel.get("Type") or "", target)
        return by_id, by_type


def _content_type(types: Any, partname: PackURI) -> str | None:
    """A part's content type in [Content_Types].xml: its override, else its extension's default."""
    for override in types.iter(_OVERRIDE):
        if (override.get("PartName") or "").lower() == partname.lower():
            return override.get("ContentType")
    for default in types.iter(_DEFAULT):
        if (default.get("Extension") or "").lower() == partname.ext.lower():
            return default.get("ContentType")
    return None
