"""Reduce the HTML of the rendered prose to a small allow-list of tags and attributes.

The prose is Markdown, which passes raw HTML through; a student's submission may be
built by a grader, so nothing that runs (`<script>`, event handlers, `javascript:`
links) or embeds another page (`<iframe>`, `<object>`) survives. Disallowed tags are
dropped (their text kept), except the ones whose content is code, dropped whole.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

TAGS = frozenset({
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "b", "i", "u", "s", "sub", "sup", "small", "code",
    "pre", "kbd", "blockquote", "ul", "ol", "li", "dl", "dt", "dd", "a", "table", "thead", "tbody", "tfoot",
    "tr", "th", "td", "caption", "hr", "br", "div", "span", "abbr", "img", "figure", "figcaption",
})
VOID = frozenset({"hr", "br", "img"})
# Tags whose content is dropped with them: code, styles and embedded documents.
DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "noscript", "template", "svg",
                               "math", "frame", "frameset", "applet", "textarea", "select", "title", "head"})
ATTRS = frozenset({"id", "class", "title", "alt", "href", "src", "colspan", "rowspan", "start", "align", "style"})
SAFE_STYLE = re.compile(r"^\s*text-align:\s*(left|right|center);?\s*$")
SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.I)


def _safe_url(value: str, attr: str) -> bool:
    """Links may go to a page (http/https/mailto) or an anchor; images only to a relative file."""
    cleaned = re.sub(r"[\x00-\x20]", "", html.unescape(value))
    scheme = SCHEME.match(cleaned)
    if attr == "src":
        return scheme is None and not cleaned.startswith("//")
    return scheme is None or scheme.group(1).lower() in ("http", "https", "mailto")


class _Guard(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.dropping: list[str] = []  # open DROP_WITH_CONTENT tags

    def _attrs(self, attrs) -> str:
        kept = []
        for name, value in attrs:
            value = "" if value is None else value
            if name not in ATTRS or (name in ("href", "src") and not _safe_url(value, name)):
                continue
            if name == "style" and not SAFE_STYLE.match(value):
                continue
            kept.append(f' {name}="{html.escape(value, quote=True)}"')
        return "".join(kept)

    def handle_starttag(self, tag, attrs, end=">"):
        if tag in DROP_WITH_CONTENT:
            if tag not in VOID and end == ">":
                self.dropping.append(tag)
        elif not self.dropping and tag in TAGS:
            self.out.append(f"<{tag}{self._attrs(attrs)}{end}")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs, end=" />")

    def handle_endtag(self, tag):
        if tag in DROP_WITH_CONTENT:
            if tag in self.dropping:
                del self.dropping[len(self.dropping) - 1 - self.dropping[::-1].index(tag):]
        elif not self.dropping and tag in TAGS and tag not in VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if not self.dropping:
            self.out.append(html.escape(data, quote=False))

    def handle_entityref(self, name):
        if not self.dropping:
            self.out.append(f"&{name};")

    def handle_charref(self, name):
        if not self.dropping:
            self.out.append(f"&#{name};")


def clean_html(text: str) -> str:
    """`text` with only allow-listed tags and attributes; comments and declarations dropped."""
    guard = _Guard()
    guard.feed(text)
    guard.close()
    return "".join(guard.out)
