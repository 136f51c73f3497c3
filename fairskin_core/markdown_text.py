"""Text a person typed, shown as typed inside Markdown that a page renders.

gr.Markdown renders HTML as well as Markdown (and $$…$$ as LaTeX), so a username like
``Dr Smith <b>x</b>`` or a path with ``**`` in it would be rendered instead of shown: every
value a person typed (names, paths, manifest values, errors that quote them) goes through `plain`.
It lives below the app because the libraries write Markdown views too (`review_data.study_markdown`),
and a library never imports the app.
"""

from __future__ import annotations

import html
import re

# What Markdown gives a meaning to within a line (Gradio's: GFM, $$ LaTeX). An underscore between
# two letters or digits never starts or ends emphasis, so names like image_id are left as they are.
_MARKUP = re.compile(r"[\\`*~\[\]#$]|(?<![^\W_])_|_(?![^\W_])")


def plain(text: object) -> str:
    """``text`` as Markdown that shows it literally, on one line (its line breaks as <br>), to put inside a sentence."""
    escaped = _MARKUP.sub(lambda match: "\\" + match.group(), html.escape(str(text), quote=False))
    return escaped.replace("\n", "<br>")
