"""Fault injection for the all-or-nothing writers: `fairskin_core.atomic` and the writers built on it.

After every fault ``path`` must hold the previous complete output byte for byte (or nothing, when
there was none), no temporary ``.<name>.*`` entry may be left beside it, and the error must name
``path``. A SIGKILLed writer cannot clean up, so there ``.<name>.*.partial`` leftovers may stay,
but ``path`` itself must still be either the previous or the new complete output.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import inspect
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairskin_core import atomic
from fairskin_core.atomic import atomic_dir, atomic_file

REPO = Path(__file__).resolve().parents[1]
REAL_REPLACE = os.replace
REAL_FSYNC = os.fsync
REAL_OPEN = open


# --- helpers -----------------------------------------------------------------------------------

def digest(path: Path) -> dict[str, str] | None:
    """sha256 of every file under ``path`` (and the names of its folders); None if nothing is there."""
    path = Path(path)
    if not os.path.lexists(path):
        return None
    if path.is_file():
        return {".": hashlib.sha256(path.read_bytes()).hexdigest()}
    found = {}
    for root, dirs, files in os.walk(path):
        for name in dirs:
            found[os.path.relpath(os.path.join(root, name), path) + "/"] = "folder"
        for name in files:
            file = os.path.join(root, name)
            found[os.path.relpath(file, path)] = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    return found


def leftovers(path: Path) -> list[str]:
    """Temporary entries beside ``path``: ``.<name>.<random>.partial`` or ``.old``."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}."))


def names_path(exc: BaseException, path: Path) -> bool:
    text = "\n".join([str(exc), *getattr(exc, "__notes__", [])])
    return str(path) in text


FAIL_MIDWAY = False  # the hand-written writers below raise half-way when this is set


class Midway(RuntimeError):
    """The caller's own error, raised inside the ``with`` block."""


def _midway() -> None:
    if FAIL_MIDWAY:
        raise Midway("caller failed half-way")


# --- the writers -------------------------------------------------------------------------------

def write_text(path: Path, version: str) -> None:
    with atomic_file(path, "w", encoding="utf-8") as handle:
        for i in range(3000):
            handle.write(f"{version} line {i}: é ü\n")
            if i == 1500:
                _midway()


def write_binary(path: Path, version: str) -> None:
    block = hashlib.sha256(version.encode()).digest() * 2048  # 64 KiB
    with atomic_file(path, "wb") as handle:
        for i in range(8):
            handle.write(block[i:] + block[:i])
            if i == 4:
                _midway()


def _fill_folder(folder: Path, version: str) -> None:
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / "empty").mkdir()
    with atomic_file(folder / "index.json", "w") as handle:  # nested atomic_file, as the real writers do
        handle.write(f'{{"version": "{version}"}}\n')
    for i in range(6):
        (folder / "sub" / f"{i}.bin").write_bytes(hashlib.sha256(f"{version}{i}".encode()).digest() * 512)
        if i == 3:
            _midway()
    (folder / "sub" / "deeper" / "last.txt").write_text(version)


def write_new_dir(path: Path, version: str) -> None:
    with atomic_dir(path) as folder:
        _fill_folder(folder, version)


def write_dir_over(path: Path, version: str) -> None:
    with atomic_dir(path, overwrite=True) as folder:
        _fill_folder(folder, version)


@functools.cache
def _table(version: str) -> pd.DataFrame:
    from fairskin_core.manifest import records_to_table

    records = [
        {"image_id": f"{version}-{i}", "image_path": f"images/{version}-{i}.png", "diagnosis": "melanoma" if i % 2 else "nevus",
         "malignant": bool(i % 2), "fst": 1 + i % 6, "fst_source": "annotated", "source": "real", "dataset": f"demo-{version}",
         "split": "train"}
        for i in range(40)
    ]
    return records_to_table(records, Path("."), check_files="none")


def write_manifest_csv(path: Path, version: str) -> None:
    from fairskin_core.manifest import write_manifest

    write_manifest(_table(version), path)


write_manifest_parquet = write_manifest_csv  # the suffix picks the format


def _report(version: str) -> tuple[dict, dict[str, pd.DataFrame]]:
    """The smallest report `write_report` renders: every section present, all "not computable"."""
    report = {
        "complete": True, "failures": [], "settings": {"features": f"hand-made {version}"},
        "groups": [{"group": "all", "fid": None, "note": "too few images"}],
        "real_floor": {"real_vs_real": None, "note": "too few images", "diversity": {"real": {}}},
        "fid_infinity": {"note": "too few images"},
        "fst_fidelity": {},
        "diversity": {"by_fst": {"lpips": None, "ms_ssim": None}, "pairs_measured": 0, "lpips_note": ""},
        "memorization": {"by": {"pixels": {"synthetic_distances": [0.5], "heldout_distances": [], "threshold": None,
                                           "suspected_copies": None}},
                         "closest_pairs": [], "closest_by": "pixels"},
        "abcd_realism": [],
    }
    tables = {"groups": pd.DataFrame({"group": ["all"], "fid": [np.nan], "version": [version]})}
    return report, tables


def write_report(path: Path, version: str) -> None:
    from fairskin_core.metrics.report import write_report as write

    write(*_report(version), path, overwrite=True)


def write_phantoms(path: Path, version: str) -> None:
    from fairskin_core.phantoms.dataset import write_phantom_dataset

    write_phantom_dataset(path, n=4, size=32, seed={"old": 1, "new": 2}.get(version, 3), workers=1, overwrite=True)


@dataclass
class Writer:
    name: str
    target: str
    write: Callable[[Path, str], None]
    previous: bool  # whether the test starts with a complete older output at path
    folder: bool
    midway: Callable[[pytest.MonkeyPatch], None] | None = None  # makes the caller fail half-way; default FAIL_MIDWAY

    def __str__(self) -> str:
        return self.name


def _csv_midway(monkeypatch):
    from fairskin_core import manifest

    _table("new")  # built (and validated) before the failure is armed: only the writing fails
    calls = iter(range(10**6))
    real = manifest._to_text

    def failing(value):
        if next(calls) == 100:  # row 10 or so, well inside the file
            raise Midway("caller failed half-way")
        return real(value)

    monkeypatch.setattr(manifest, "_to_text", failing)


def _parquet_midway(monkeypatch):
    def failing(self, handle, **kwargs):
        handle.write(b"PAR1 half a parquet file")
        raise Midway("caller failed half-way")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing)


def _report_midway(monkeypatch):
    from fairskin_core.metrics import report

    def failing(_):  # report.json and the CSVs are written by now
        raise Midway("caller failed half-way")

    monkeypatch.setattr(report, "_html", failing)


def _phantoms_midway(monkeypatch):
    from fairskin_core.phantoms import dataset

    calls = iter(range(100))
    real = dataset._render_and_save

    def failing(task):
        if next(calls) == 2:
            raise Midway("caller failed half-way")
        return real(task)

    monkeypatch.setattr(dataset, "_render_and_save", failing)


WRITERS = [
    Writer("atomic_file text", "notes.txt", write_text, True, False),
    Writer("atomic_file text, new file", "fresh.txt", write_text, False, False),
    Writer("atomic_file binary", "blob.bin", write_binary, True, False),
    Writer("atomic_dir new folder", "folder", write_new_dir, False, True),
    Writer("atomic_dir overwrite", "folder", write_dir_over, True, True),
    Writer("write_manifest csv", "manifest.csv", write_manifest_csv, True, False, _csv_midway),
    Writer("write_manifest parquet", "manifest.parquet", write_manifest_parquet, True, False, _parquet_midway),
    Writer("write_report", "report", write_report, True, True, _report_midway),
    Writer("write_phantom_dataset", "phantoms", write_phantoms, True, True, _phantoms_midway),
]
OVERWRITING_FOLDERS = [w for w in WRITERS if w.folder and w.previous]


_TEMPLATES: dict[str, Path] = {}


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    yield tmp_path_factory.mktemp("previous")
    _TEMPLATES.clear()


def _prepare(writer: Writer, tmp_path: Path, templates: Path) -> tuple[Path, dict | None]:
    """``path`` for ``writer``, holding its complete "old" output when it has a previous one."""
    path = tmp_path / "out" / writer.target
    path.parent.mkdir(parents=True)
    if writer.previous:
        if writer.name not in _TEMPLATES:  # written once by the writer itself, then copied byte for byte
            template = templates / str(len(_TEMPLATES)) / writer.target
            writer.write(template, "old")
            _TEMPLATES[writer.name] = template
        template = _TEMPLATES[writer.name]
        (shutil.copytree if template.is_dir() else shutil.copy2)(template, path)
        assert digest(path) == digest(template)
    return path, digest(path)


def _check_unchanged(path: Path, before: dict | None, exc: BaseException) -> None:
    assert digest(path) == before, "the previous output changed" if before else "something appeared at path"
    assert leftovers(path) == [], f"temporary leftovers beside {path}: {leftovers(path)}"
    assert names_path(exc, path), f"the error does not name {path}: {exc!r}"


def _check_rewrite(writer: Writer, path: Path, before: dict | None, monkeypatch) -> None:
    """With the fault gone the same writer succeeds and leaves nothing beside its output."""
    monkeypatch.undo()
    writer.write(path, "new")
    assert digest(path) not in (None, before)
    assert leftovers(path) == []


# --- failing renames ---------------------------------------------------------------------------

def _fail_on(predicate, code=errno.EIO):
    def replace(src, dst, *args, **kwargs):
        if predicate(Path(src), Path(dst)):
            raise OSError(code, "injected rename failure", str(src), None, str(dst))
        return REAL_REPLACE(src, dst, *args, **kwargs)

    return replace


@pytest.mark.parametrize("writer", WRITERS, ids=str)
def test_failing_final_rename_keeps_the_previous_output(writer, tmp_path, templates, monkeypatch):
    path, before = _prepare(writer, tmp_path, templates)
    monkeypatch.setattr(os, "replace", _fail_on(lambda src, dst: dst == path))

    def no_swap(a, b):
        if Path(b) == path:
            raise OSError(errno.EIO, "injected rename failure", str(b))
        raise AssertionError("unexpected swap")

    monkeypatch.setattr(atomic, "_exchange", no_swap)
    with pytest.raises(OSError, match="injected rename failure") as caught:
        writer.write(path, "new")
    _check_unchanged(path, before, caught.value)
    assert re.search(r"unchanged|nothing was created|put back", str(caught.value))
    _check_rewrite(writer, path, before, monkeypatch)


NO_SWAP_FAULTS = {  # on a file system without RENAME_EXCHANGE: which rename fails, and what the error says
    "final rename: the previous folder is moved back": (
        lambda src, dst, path: dst == path and src.name.endswith(".partial"), errno.EIO, "put back unchanged"
    ),
    "move aside: nothing changes": (lambda src, dst, path: src == path, errno.EACCES, "could not move the previous folder aside"),
}


@pytest.mark.parametrize("fault", NO_SWAP_FAULTS)
@pytest.mark.parametrize("writer", OVERWRITING_FOLDERS, ids=str)
def test_without_atomic_swap_a_failing_rename_keeps_the_previous_folder(writer, fault, tmp_path, templates, monkeypatch):
    path, before = _prepare(writer, tmp_path, templates)
    fails, code, message = NO_SWAP_FAULTS[fault]
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    monkeypatch.setattr(os, "replace", _fail_on(lambda src, dst: fails(src, dst, path), code))
    with pytest.raises(OSError, match=message) as caught:
        writer.write(path, "new")
    _check_unchanged(path, before, caught.value)


@pytest.mark.parametrize("writer", OVERWRITING_FOLDERS, ids=str)
def test_when_the_rename_back_fails_too_the_error_says_where_the_previous_folder_is(writer, tmp_path, templates, monkeypatch):
    path, before = _prepare(writer, tmp_path, templates)
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    monkeypatch.setattr(os, "replace", _fail_on(lambda src, dst: dst == path))  # the final rename and the one back
    with pytest.raises(OSError, match="could not be moved back") as caught:
        writer.write(path, "new")
    message = str(caught.value)
    aside = Path(re.search(r"is now at (\S+) \(nothing was deleted\)", message).group(1))
    assert names_path(caught.value, path) and not os.path.lexists(path)
    assert digest(aside) == before, "the previous folder must survive, whole, where the error says"
    assert leftovers(path) == [aside.name] and aside.name.endswith(".old")  # the staging folder is gone
    monkeypatch.undo()
    os.replace(aside, path)  # what the message tells the user to do
    assert digest(path) == before


# --- a full disk -------------------------------------------------------------------------------

class FillingHandle:
    """A file handle whose writes fail with ENOSPC once ``room`` bytes or characters are written."""

    def __init__(self, handle, room: int):
        self._handle, self._room = handle, room

    def write(self, data):
        if len(data) > self._room:
            self._handle.write(data[: self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._handle.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)

    def __iter__(self):
        return iter(self._handle)

    def __getattr__(self, name):
        return getattr(self._handle, name)


@pytest.mark.parametrize("writer", WRITERS, ids=str)
def test_disk_full_while_writing(writer, tmp_path, templates, monkeypatch):
    path, before = _prepare(writer, tmp_path, templates)
    monkeypatch.setattr(atomic, "open", lambda *a, **k: FillingHandle(REAL_OPEN(*a, **k), 10), raising=False)
    with pytest.raises(OSError) as caught:
        writer.write(path, "new")
    assert caught.value.errno == errno.ENOSPC and "No space left on device" in str(caught.value)
    _check_unchanged(path, before, caught.value)
    _check_rewrite(writer, path, before, monkeypatch)


FSYNC_FAULTS = [pytest.param(w, 1, id=f"{w}-first fsync") for w in WRITERS]
FSYNC_FAULTS += [pytest.param(w, 3, id=f"{w}-third fsync") for w in WRITERS if w.folder]  # files: 2 fsyncs only


@pytest.mark.parametrize(("writer", "nth"), FSYNC_FAULTS)
def test_disk_full_at_fsync(writer, nth, tmp_path, templates, monkeypatch):
    path, before = _prepare(writer, tmp_path, templates)
    calls = iter(range(1, 10**6))

    def fsync(fd):
        if next(calls) == nth:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return REAL_FSYNC(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as caught:
        writer.write(path, "new")
    assert caught.value.errno == errno.ENOSPC and "No space left on device" in str(caught.value)
    _check_unchanged(path, before, caught.value)


def test_a_failing_folder_fsync_after_the_rename_says_the_file_is_written(tmp_path, monkeypatch):
    path = tmp_path / "notes.txt"
    write_text(path, "old")

    def fsync(fd):
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return REAL_FSYNC(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="written, but flushing its folder to disk failed") as caught:
        write_text(path, "new")
    assert names_path(caught.value, path) and path.read_text(encoding="utf-8").startswith("new line 0")
    assert leftovers(path) == []


# --- the caller fails inside the with block ----------------------------------------------------

@pytest.mark.parametrize("writer", WRITERS, ids=str)
def test_an_exception_inside_the_with_block(writer, tmp_path, templates, monkeypatch):
    path, before = _prepare(writer, tmp_path, templates)
    if writer.midway:
        writer.midway(monkeypatch)
    else:
        monkeypatch.setattr(sys.modules[__name__], "FAIL_MIDWAY", True)
    with pytest.raises(Midway) as caught:
        writer.write(path, "new")
    assert str(caught.value) == "caller failed half-way"  # the caller's own error, unchanged
    _check_unchanged(path, before, caught.value)  # ...with a note that names the path
    _check_rewrite(writer, path, before, monkeypatch)


@pytest.mark.parametrize("writer", [WRITERS[0], WRITERS[4]], ids=str)
def test_keyboard_interrupt_inside_the_with_block(writer, tmp_path, templates, monkeypatch):
    path, before = _prepare(writer, tmp_path, templates)

    def interrupt():
        if FAIL_MIDWAY:
            raise KeyboardInterrupt

    monkeypatch.setattr(sys.modules[__name__], "FAIL_MIDWAY", True)
    monkeypatch.setattr(sys.modules[__name__], "_midway", interrupt)
    with pytest.raises(KeyboardInterrupt) as caught:
        writer.write(path, "new")
    _check_unchanged(path, before, caught.value)


# --- races with other writers ------------------------------------------------------------------

def test_a_folder_filled_by_another_process_meanwhile_is_kept(tmp_path):
    path = tmp_path / "out"
    with pytest.raises(FileExistsError, match="filled by another process meanwhile") as caught, atomic_dir(path) as folder:
        (folder / "mine.txt").write_text("mine")
        path.mkdir()
        (path / "theirs.txt").write_text("theirs")  # the other process finishes first
    assert names_path(caught.value, path) and "this output was discarded" in str(caught.value)
    assert digest(path) == {"theirs.txt": hashlib.sha256(b"theirs").hexdigest()}
    assert leftovers(path) == []


def test_overwrite_raced_between_move_aside_and_rename_loses_nothing(tmp_path, monkeypatch):
    """Without an atomic swap: another process fills ``path`` after the old folder went aside."""
    path = tmp_path / "out"
    write_dir_over(path, "old")
    before = digest(path)
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)

    def replace(src, dst):
        if Path(dst) == path and Path(src).name.endswith(".partial"):
            path.mkdir()
            (path / "theirs.txt").write_text("theirs")
        return REAL_REPLACE(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="another process put something there meanwhile") as caught:
        write_dir_over(path, "new")
    aside = Path(re.search(r"is now at (\S+) ", str(caught.value)).group(1))
    assert digest(path) == {"theirs.txt": hashlib.sha256(b"theirs").hexdigest()}
    assert digest(aside) == before and leftovers(path) == [aside.name]


# --- SIGKILL -----------------------------------------------------------------------------------

def blocks(version, n, size):
    """``n`` deterministic blocks of ``size`` bytes: the content of version ``version``."""
    seed = hashlib.sha256(version.encode()).digest()
    for i in range(n):
        yield hashlib.sha256(seed + i.to_bytes(4, "big")).digest() * (size // 32)


CHILD = "import hashlib\n" + inspect.getsource(blocks) + r'''
import os, sys, time
from pathlib import Path
from fairskin_core import atomic

kind, path, version, hook = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]

def announce(word):
    print(word, flush=True)
    time.sleep(30)  # killed here

real_replace, real_exchange = os.replace, atomic._exchange
if kind == "dir-no-swap":
    atomic._exchange = lambda a, b: False
if hook == "before-rename":
    def replace(src, dst):
        if Path(dst) == path:
            announce("renaming")
        return real_replace(src, dst)
    def exchange(a, b):
        announce("renaming")
    os.replace, atomic._exchange = replace, exchange
elif hook == "after-rename":
    def replace(src, dst):
        real_replace(src, dst)
        if Path(dst) == path:
            announce("renamed")
    def exchange(a, b):
        real_exchange(a, b)
        announce("renamed")
    os.replace, atomic._exchange = replace, exchange
elif hook == "after-move-aside":
    def replace(src, dst):
        real_replace(src, dst)
        if Path(src) == path:
            announce("aside")
    os.replace = replace

if kind == "file":
    with atomic.atomic_file(path, "wb") as handle:
        for i, block in enumerate(blocks(version, 24, 1 << 18)):  # 6 MiB
            handle.write(block)
            handle.flush()
            if i == 0:
                print("writing", flush=True)
            time.sleep(0.004)
else:
    with atomic.atomic_dir(path, overwrite=True) as folder:
        (folder / "parts").mkdir()
        for i, block in enumerate(blocks(version, 16, 1 << 17)):  # 16 files, 2 MiB
            (folder / "parts" / f"{i:03d}.bin").write_bytes(block)
            if i == 0:
                print("writing", flush=True)
            time.sleep(0.006)
print("done", flush=True)
'''

def expected(kind: str, version: str) -> dict:
    if kind == "file":
        return {".": hashlib.sha256(b"".join(blocks(version, 24, 1 << 18))).hexdigest()}
    found = {"parts/": "folder"}
    for i, block in enumerate(blocks(version, 16, 1 << 17)):
        found[f"parts/{i:03d}.bin"] = hashlib.sha256(block).hexdigest()
    return found


def write_in_process(kind: str, path: Path, version: str) -> None:
    if kind == "file":
        with atomic_file(path, "wb") as handle:
            for block in blocks(version, 24, 1 << 18):
                handle.write(block)
    else:
        with atomic_dir(path, overwrite=True) as folder:
            (folder / "parts").mkdir()
            for i, block in enumerate(blocks(version, 16, 1 << 17)):
                (folder / "parts" / f"{i:03d}.bin").write_bytes(block)


def kill_writer(kind: str, path: Path, version: str, hook: str, wait_for: str, delay: float) -> str:
    """Start a writer, SIGKILL it ``delay`` s after it prints ``wait_for``; return its last line."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(path), version, hook],
                             stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        line = ""
        while line.strip() != wait_for:
            line = child.stdout.readline()
            assert line, f"the writer ended before printing {wait_for!r}"
        threading.Event().wait(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        return line.strip()
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()


SEED = int(os.environ.get("FAIRSKIN_KILL_SEED", "20240521"))


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_sigkill_leaves_the_previous_or_the_new_output_never_a_mix(kind, tmp_path):
    path = tmp_path / ("weights.bin" if kind == "file" else "dataset")
    old, new = expected(kind, "old"), expected(kind, "new")
    write_in_process(kind, path, "old")
    assert digest(path) == old
    rng = random.Random(SEED)
    kills = [("none", "writing", rng.uniform(0, 0.15)) for _ in range(3)]
    kills += [("before-rename", "renaming", 0.0), ("after-rename", "renamed", 0.0)]
    seen = []
    for hook, word, delay in kills:
        kill_writer(kind, path, "new", hook, word, delay)
        now = digest(path)
        assert now in (old, new), f"after SIGKILL ({hook}, {delay:.3f} s, seed {SEED}) {path} is neither the old nor the new output"
        expect = new if hook == "after-rename" else old if hook == "before-rename" else now
        assert now == expect, f"after SIGKILL at {hook}: wrong version"
        left = leftovers(path)
        assert all(re.fullmatch(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.partial", name) for name in left), left
        seen.append(set(left))
        if now == new:  # put the old one back for the next round
            write_in_process(kind, path, "old")
    assert any(seen), "a SIGKILL mid-write leaves a .partial that nobody can clean"
    write_in_process(kind, path, "new")  # a later successful write is not disturbed by them
    assert digest(path) == new
    assert set(leftovers(path)) == set().union(*seen)


def test_sigkill_without_atomic_swap_keeps_the_previous_folder_aside(tmp_path):
    """Where the file system cannot swap two folders, there is a moment between moving the old
    folder aside and the new one in. A SIGKILL there leaves no folder at ``path``, but the
    previous one, whole, as ``.<name>.<random>.old`` beside it; nothing deletes it."""
    path = tmp_path / "dataset"
    old = expected("dir", "old")
    write_in_process("dir", path, "old")
    kill_writer("dir-no-swap", path, "new", "after-move-aside", "aside", 0.0)
    asides = [name for name in leftovers(path) if name.endswith(".old")]
    assert not os.path.lexists(path) and len(asides) == 1 and digest(path.parent / asides[0]) == old
    write_in_process("dir", path, "new")
    assert digest(path) == expected("dir", "new") and [n for n in leftovers(path) if n.endswith(".old")] == asides
