"""All-or-nothing outputs: a failed command never leaves a half-written file or folder.

Both writers keep one promise: at ``path`` there is, at every moment, either the previous
complete output or the new complete one, never a half-written one, and never neither (the one
exception, a SIGKILL at a precise moment on a file system that cannot swap two folders, is
described below: even then the previous folder survives, whole, beside ``path``).

- ``atomic_file`` writes a temporary ``.<name>.<random>.partial`` beside ``path``, flushes and
  fsyncs it, renames it over ``path`` (one atomic ``rename``) and fsyncs the folder, so that the
  rename itself survives a power loss.
- ``atomic_dir`` builds the folder as ``.<name>.<random>.partial`` beside ``path``, fsyncs every
  file and folder in it, and moves it into place. Over an existing folder (``overwrite=True``)
  the two are swapped in one step (Linux ``renameat2(RENAME_EXCHANGE)``) and the old one is
  deleted only afterwards. Where a file system cannot swap, the old folder is renamed aside to
  ``.<name>.<random>.old`` first; if the new one then cannot be moved in, the old one is moved
  back, and if that fails too the error says where it now is. The old output is never deleted
  before the new one is in place. (A process killed between the two renames leaves the old
  folder as that ``.old``; nothing deletes ``.old`` folders.)

On any failure (an exception in the ``with`` block, a full disk, a failed rename) the
temporary file or folder is removed and the error names ``path`` and says what is there now.
After a SIGKILL nothing can clean up: hidden ``.<name>.*.partial`` leftovers may remain beside
``path`` (delete them by hand), but ``path`` itself is never one of them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .errors import NamesParameters

_STAGING_SUFFIX = ".partial"
_ASIDE_SUFFIX = ".old"
# errno values meaning "the target is occupied" for a rename of a folder.
_OCCUPIED = {errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR}


def _reason(exc: BaseException, staging: Path | None = None, path: Path | None = None) -> str:
    """The cause in a few words, with temporary names replaced by the final ones."""
    text = getattr(exc, "atomic_detail", None)
    if text is None:
        if isinstance(exc, OSError) and exc.strerror:
            text = exc.strerror + (f": {exc.filename}" if exc.filename else "")
        else:
            text = str(exc) or type(exc).__name__
    if staging is not None and path is not None:
        text = text.replace(str(staging), str(path))
    return text


def _cause(exc: BaseException) -> str:
    """The bare cause, without the (temporary) file names a failed rename reports."""
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


def _error(exc: BaseException, message: str, detail: str, note: str | None = None) -> BaseException:
    """``exc`` restated with ``message``; built-in OSErrors keep their class and errno."""
    if isinstance(exc, OSError) and type(exc).__module__ == "builtins":
        cls = type(exc)
        new = cls(exc.errno, message) if exc.errno is not None else cls(message)
        new.atomic_detail = detail
        return new
    # The caller's own exception (ValueError, KeyboardInterrupt, ...): keep it, add where it hit.
    if hasattr(exc, "add_note"):
        exc.add_note(note or message)
    return exc


def _raise(exc: BaseException, message: str, detail: str, note: str | None = None):
    new = _error(exc, message, detail, note)
    if new is exc:
        raise exc
    raise new from exc


def _fsync_dir(folder: str | Path) -> None:
    """Make renames and new entries in ``folder`` durable (Linux: fsync on the folder itself)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):  # file systems that cannot
            raise
    finally:
        os.close(fd)


def _fsync_file(file: str) -> None:
    fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """fsync every regular file under ``root``, then every folder (deepest first).

    Files are flushed a few at a time in threads: the file system then commits them together,
    which costs far less than one journal commit per file.
    """

    def fail(exc: OSError) -> None:
        raise exc

    files, folders = [], []
    for folder, _, names in os.walk(root, topdown=False, onerror=fail):
        for name in names:
            file = os.path.join(folder, name)
            if stat.S_ISREG(os.lstat(file).st_mode):  # not links, fifos, sockets: nothing to flush
                files.append(file)
        folders.append(folder)
    if len(files) > 8:
        with ThreadPoolExecutor(min(8, len(files))) as pool:
            list(pool.map(_fsync_file, files))
    else:
        for file in files:
            _fsync_file(file)
    for folder in folders:
        _fsync_dir(folder)


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w", **open_kwargs) -> Iterator:
    """Write to a temporary file beside ``path`` and rename it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_STAGING_SUFFIX, dir=path.parent)
    except OSError as exc:
        state = "the previous file is unchanged" if os.path.lexists(path) else "nothing was created"
        detail = f"cannot create a temporary file in {path.parent}: {_reason(exc)}"
        _raise(exc, f"{path}: not written ({detail}); {state}", f"{path}: {detail}")
    os.close(fd)
    try:
        with open(tmp, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, GeneratorExit):
            raise
        state = "the previous file is unchanged" if os.path.lexists(path) else "nothing was created"
        detail = _reason(exc, Path(tmp), path)
        _raise(exc, f"{path}: not written ({detail}); {state}", f"{path}: {detail}", f"{path}: not written; {state}")
    try:
        _fsync_dir(path.parent)
    except OSError as exc:
        detail = f"written, but flushing its folder to disk failed: {_reason(exc)}"
        _raise(exc, f"{path}: {detail}; it may not survive a power loss", f"{path}: {detail}")


def _libc_renameat2():
    with contextlib.suppress(OSError, AttributeError):
        function = ctypes.CDLL(None, use_errno=True).renameat2
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        function.restype = ctypes.c_int
        return function
    return None


_RENAMEAT2 = _libc_renameat2()
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one atomic step; False where this system or file system cannot."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _discard(folder: Path) -> None:
    if folder.is_symlink():
        with contextlib.suppress(OSError):
            folder.unlink()
    else:
        shutil.rmtree(folder, ignore_errors=True)


def _commit(staging: Path, path: Path, overwrite: bool) -> None:
    """Put the complete ``staging`` folder at ``path``; on failure leave ``path`` as it was."""
    parent = path.parent
    occupied = path.is_dir() and any(path.iterdir())
    if overwrite and occupied:
        try:
            swapped = _exchange(staging, path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:  # ENOENT: ``path`` vanished meanwhile, a plain rename below
                shutil.rmtree(staging, ignore_errors=True)
                detail = f"could not move the new folder into place: {_cause(exc)}"
                _raise(exc, f"{path}: not replaced ({detail}); the previous folder is unchanged", f"{path}: {detail}")
            swapped, occupied = False, False
        if swapped:  # ``staging`` now holds the previous folder
            flush_error = None
            try:
                _fsync_dir(parent)
            except OSError as exc:
                flush_error = exc
            _discard(staging)
            if flush_error is not None:
                detail = f"replaced, but flushing its folder to disk failed: {_cause(flush_error)}"
                _raise(flush_error, f"{path}: {detail}; the change may not survive a power loss", f"{path}: {detail}")
            return
    aside = None
    if overwrite and occupied:  # no atomic swap here: move the previous folder aside first
        aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=_ASIDE_SUFFIX, dir=parent))
        try:
            os.replace(path, aside)
        except OSError as exc:
            aside.rmdir()
            aside = None
            if exc.errno != errno.ENOENT:
                shutil.rmtree(staging, ignore_errors=True)
                detail = f"could not move the previous folder aside: {_cause(exc)}"
                _raise(exc, f"{path}: not replaced ({detail}); the previous folder is unchanged", f"{path}: {detail}")
    try:
        os.replace(staging, path)
    except OSError as exc:
        filled = exc.errno in _OCCUPIED
        restore_error = None
        if aside is not None:
            try:
                os.replace(aside, path)
            except OSError as back:
                restore_error = back
            with contextlib.suppress(OSError):
                _fsync_dir(parent)
        shutil.rmtree(staging, ignore_errors=True)
        if restore_error is not None:
            detail = f"could not move the new folder into place: {_cause(exc)}"
            message = (
                f"{path}: not replaced ({detail})"
                + ("; another process put something there meanwhile, which was left as it is" if filled else "")
                + f"; the previous folder could not be moved back ({_cause(restore_error)}) and is now at {aside}"
                " (nothing was deleted): move it back by hand"
            )
            _raise(exc, message, f"{path}: {detail}")
        if filled and aside is None:
            raise FileExistsError(
                f"{path} was filled by another process meanwhile; its content was left as it is"
                + " and this output was discarded"
            ) from None
        state = ("the previous folder was put back unchanged" if aside is not None
                 else "the previous folder is unchanged" if os.path.lexists(path) else "nothing was created")
        detail = f"could not move the new folder into place: {_cause(exc)}"
        _raise(exc, f"{path}: not written ({detail}); {state}", f"{path}: {detail}")
    try:
        _fsync_dir(parent)
    except OSError as exc:  # the new folder is in place; keep the old one, the rename may be lost
        detail = f"written, but flushing its folder to disk failed: {_cause(exc)}"
        kept = f"; the previous folder is kept at {aside}" if aside is not None else ""
        _raise(exc, f"{path}: {detail}; it may not survive a power loss{kept}", f"{path}: {detail}")
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


class OutputExistsError(NamesParameters, FileExistsError):
    """An output folder that is there already, refused: its message names the output's parameters as its callers take
    them, ``{out}`` and ``{overwrite}`` (`NamesParameters`)."""


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name beside ``path``; move it into place only on success.

    An existing non-empty ``path`` is refused unless ``overwrite`` is set, in which case it is
    replaced only once the new folder is complete (and deleted only after that).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path} exists and is not a folder; choose another {{out}}", "out")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputExistsError(f"{path} already exists and is not empty; choose a new folder or pass {{overwrite}}", "overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=_STAGING_SUFFIX, dir=path.parent))
    except OSError as exc:
        state = "the previous folder is unchanged" if path.exists() else "nothing was created"
        detail = f"cannot create a staging folder in {path.parent}: {_reason(exc)}"
        _raise(exc, f"{path}: not written ({detail}); {state}", f"{path}: {detail}")
    try:
        yield staging
        _fsync_tree(staging)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, GeneratorExit):
            raise
        state = "the previous folder is unchanged" if path.exists() else "nothing was created"
        detail = _reason(exc, staging, path)
        _raise(exc, f"{path}: not written ({detail}); {state}", f"{path}: {detail}", f"{path}: not written; {state}")
    _commit(staging, path, overwrite)
