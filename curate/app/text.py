"""Outside text shown as text: the one helper every page message that quotes a file name, a
pickle global, a config value, a manifest entry or any other text from outside goes through.

Streamlit renders the body of `st.error`, `st.warning`, `st.markdown`, `st.caption` … as
GitHub-flavoured Markdown: `[x](https://…)` becomes a live link, `![](https://…)` an image
fetched from another host, a bare `www.host` or `https://…` an autolink, `:red[…]` a colour.
`plain()` puts a backslash before every ASCII punctuation character — CommonMark's escape, which
any ASCII punctuation may take — so every such construct (links, images, autolinks, emphasis,
code, headings, HTML tags, directives, `$` maths) is shown literally and the text reads the same.
Line breaks are kept.
"""
from __future__ import annotations

import string

_ESCAPES = str.maketrans({c: "\\" + c for c in string.punctuation})


def plain(text: object) -> str:
    """`text` (any object, as str()) escaped so that Markdown and HTML show as typed."""
    return str(text).translate(_ESCAPES)


def quoted(text: object) -> str:
    """`plain(text)` in typographic quotes, for naming an outside value inside a sentence."""
    return f"“{plain(text)}”"
