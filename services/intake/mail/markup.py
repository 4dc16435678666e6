"""HTML mail bodies as readable plain text: paragraphs, line breaks, lists, table rows, links
as [text](url); no script, style or head. One iterative pass over lxml's parse events, so the
cost is linear in the document and deep nesting cannot exhaust the stack."""

from __future__ import annotations

import re

from lxml import etree

from services.intake.mail.decode import clean

_SKIP = frozenset(
    {"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe"}
)
_BLOCK = frozenset(
    {"p", "div", "section", "article", "header", "footer", "main", "nav", "aside", "blockquote"}
    | {"pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "dd", "table", "tr"}
    | {"form", "fieldset", "address", "center", "figure", "figcaption", "hr", "caption"}
)
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre"})
# Elements that change the layout; any other only contributes its text.
_STRUCTURE = _BLOCK | {"li", "td", "th", "a", "br"}
_LINKS = re.compile(r"(?:https?|mailto|ftp):", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
# The plain parser: lxml.html's looks up a Python class for every element, which doubles the cost.
_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)


class _Text:
    """Output being written: fragments, and the state the next fragment depends on."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.breaks = 2  # newlines the output ends with; the start counts as a paragraph
        self.pre = 0
        self.lists: list[int] = []  # per open list: 0 for <ul>, else the next <ol> number
        self.cells: list[int] = []  # per open table row: cells written so far
        self.links: list[tuple[int, str]] = []

    def write(self, text: str | None) -> None:
        if not text:
            return
        if not self.pre:
            text = _SPACES.sub(" ", text)
            if self.breaks or (self.parts and self.parts[-1].endswith(" ")):
                text = text.lstrip(" ")
            if not text:
                return
        self.parts.append(text)
        self.breaks = len(text) - len(text.rstrip("\n"))

    def newline(self, count: int = 1) -> None:
        if self.breaks < count:
            self.parts.append("\n" * (count - self.breaks))
            self.breaks = count

    def start(self, tag: str, element: etree._Element) -> None:
        if tag in _BLOCK:
            self.newline(2 if tag in _PARAGRAPH else 1)
        if tag == "pre":
            self.pre += 1
        elif tag in ("ul", "ol"):
            self.lists.append(0 if tag == "ul" else 1)
        elif tag == "li":
            self.newline()
            number = self.lists[-1] if self.lists else 0
            self.write("* " if number == 0 else f"{number}. ")
            if number:
                self.lists[-1] += 1
        elif tag == "tr":
            self.cells.append(0)
        elif tag in ("td", "th") and self.cells:
            if self.cells[-1]:
                self.parts.append("  ")  # cells of a row side by side
            self.cells[-1] += 1
        elif tag == "a":
            self.links.append((len(self.parts), str(element.get("href") or "")))
        if element.text:
            self.write(element.text)

    def end(self, tag: str) -> None:
        if tag == "br":
            self.parts.append("\n")
            self.breaks += 1
        elif tag == "pre":
            self.pre -= 1
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "tr" and self.cells:
            self.cells.pop()
        elif tag == "a" and self.links:
            self._link(*self.links.pop())
        if tag in _BLOCK or tag == "li":
            self.newline(2 if tag in _PARAGRAPH else 1)

    def _link(self, at: int, href: str) -> None:
        label = "".join(self.parts[at:]).strip()
        if label and _LINKS.match(href) and label != href:
            self.parts[at:] = [f"[{label}]({href})"]
            self.breaks = 0


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: links as [text](url), lists, tables; no script or style."""
    html = _XML_DECLARATION.sub("", html)
    if not html.strip():
        return ""
    try:
        document = etree.fromstring(html, _PARSER)
        if document is None:
            return ""
        out = _Text()
        walk = etree.iterwalk(document, events=("start", "end"))
        for event, element in walk:
            tag = element.tag  # the HTML parser gives lower-case names
            if event == "start":
                if tag in _SKIP:
                    walk.skip_subtree()  # its end event still comes, and writes its tail
                elif tag in _STRUCTURE:
                    out.start(tag, element)
                elif element.text:
                    out.write(element.text)
                continue
            if tag in _STRUCTURE:
                out.end(tag)
            if element.tail:
                out.write(element.tail)
        text = "".join(out.parts)
    except Exception:  # lxml refuses some broken documents; tags stripped are still readable
        text = _TAG.sub(" ", html)
    return clean(text)
