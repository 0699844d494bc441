"""Outside text shown as text: the one helper every page message that quotes a file name, a
pickle global, a config value, a manifest entry or any other text from outside goes through.

Streamlit renders the body of `st.error`, `st.warning`, `st.markdown`, `st.caption` … as
GitHub-flavoured Markdown: `[x](https://…)` becomes a live link, `![](https://…)` an image
fetched from another host, a bare `www.host` or `https://…` an autolink, `:red[…]` a colour.
`plain()` puts a backslash before every ASCII punctuation character — CommonMark's escape, which
any ASCII punctuation may take — so every such construct (links, images, autolinks, emphasis,
code, headings, HTML tags, directives, `$` maths) is shown literally and the text reads the same.
Line breaks are kept.

Escapes do not stop the app's renderer from linking a bare address (`https://…`, `www.…`, a
mail address): it finds them in the text after the escapes are read (seen in a real browser).
So an invisible WORD JOINER (U+2060) goes after each `://`'s colon, after `www` and after `@`:
the text looks the same and copies almost the same, but is no longer an address.
"""
from __future__ import annotations

import re
import string

_ESCAPES = str.maketrans({c: "\\" + c for c in string.punctuation})
_JOIN = "\u2060"  # WORD JOINER: invisible, and breaks an address the renderer would link
_ADDRESS = re.compile(r"(:)(?=//)|(www)(?=\.)|(@)", re.IGNORECASE)


def plain(text: object) -> str:
    """`text` (any object, as str()) escaped so that Markdown and HTML show as typed, and no
    address in it becomes a link."""
    unlinked = _ADDRESS.sub(lambda m: m.group(0) + _JOIN, str(text))
    return unlinked.translate(_ESCAPES)


def quoted(text: object) -> str:
    """`plain(text)` in typographic quotes, for naming an outside value inside a sentence."""
    return f"“{plain(text)}”"
