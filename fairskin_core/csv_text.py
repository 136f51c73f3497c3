"""Reading CSV text a person gave us (manifests, dataset metadata): every failure named by file and line.

A CSV file may turn out not to be text (an image typed as a manifest), not UTF-8 (a spreadsheet's
default export), or not CSV (an unclosed quote swallowing the file, a cell over the csv module's
limit); each is refused in words, never as a codec error or a csv.Error without the file's name.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path


def csv_lines(path: Path, error: type[ValueError], what: str = "a manifest") -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each record of a UTF-8 CSV file (a BOM allowed), as the csv module reads them.

    A file that is not text (an image, say), not UTF-8, or not CSV (broken quoting, a cell over the
    csv module's 131,072-character limit) raises ``error`` naming the file and the line, never a bare
    codec or csv.Error; ``error`` is a `fairskin_core.manifest.ManifestError` class (its ``about``).
    ``path`` must be checked by `refuse_private` first."""
    handle = open(path, newline="", encoding="utf-8-sig")
    reader = csv.reader(handle)
    with handle:
        try:
            for values in reader:
                yield reader.line_num, values
        except UnicodeDecodeError:
            line = _first_line_not_utf8(path)
            problem = (f"this is not {what}: a CSV file is text (UTF-8), and this file is not (an image? a binary file?)"
                       if line == 0 else f"is not UTF-8 text (line {line}); save it as UTF-8 (CSV UTF-8 in a spreadsheet's Save As)")
            raise error.about(str(path), "file", problem) from None
        except csv.Error as exc:
            problem = (f"cannot be read as CSV ({exc}): a cell over {csv.field_size_limit():,} characters or an unclosed "
                       "quote; check that this is the right file and that its quotes are closed")
            raise error.about(str(path), f"line {reader.line_num}", problem) from None


def _first_line_not_utf8(path: Path) -> int:
    """The number of the first line of a text file that is not UTF-8 (text is decoded in blocks, so the reader cannot say
    which); 0 for a binary file (a NUL byte, or no line break, in its first 4 KiB)."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
        if b"\x00" in head or (len(head) == 4096 and b"\n" not in head):
            return 0
        handle.seek(0)
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0
