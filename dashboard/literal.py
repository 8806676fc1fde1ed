"""Data shown as data: text from a log (rationales, ids, reasons, user names) placed inside a
Markdown string is escaped first, so it can never become a link, an image the viewer's browser
fetches (``![x](http://attacker/pixel)``), a heading, or one of Streamlit's directives."""
from __future__ import annotations

import re

# inline markup: emphasis, code, links/images, raw HTML, tables, strikethrough, math, directives
_MARKDOWN = re.compile(r"([\\`*_\[\]()<>!#|~$:])")
# block markup at the start of the text: a list item or an ordered list number
_LEADING = re.compile(r"^(\s*)([-+]|\d+[.)])")


def md(value) -> str:
    """``value`` as literal text inside Markdown: every character Markdown or Streamlit's
    directives (``:red[...]``, ``:material/x:``) would interpret is backslash-escaped, and line
    breaks become spaces (a newline could start a new block)."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    text = _MARKDOWN.sub(r"\\\1", text)
    return _LEADING.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)
