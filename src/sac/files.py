"""Files and folders: atomic writes, JSON, sha256, the data and weights folders."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sac.errors import OutputError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path`` (atomic on POSIX).

    A failed write (a full disk, a read-only folder, ...) leaves neither ``path`` changed nor the temporary file
    behind and raises :class:`~sac.errors.OutputError` naming ``path`` (not the temporary file).

    Example::

        with atomic_path("out.png") as tmp:
            cv2.imwrite(str(tmp), img)
    """
    path = Path(path)
    output_dir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    except OSError as e:
        raise _output_error(path, e) from e
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    mode = 0o666 & ~umask  # mkstemp makes 0600; give the final file normal permissions
    os.chmod(tmp_path, mode)
    try:
        yield tmp_path
        os.chmod(tmp_path, mode)  # again: a writer may have replaced the file (safetensors does)
        os.replace(tmp_path, path)
    except OSError as e:
        raise _output_error(path, e) from e
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _output_error(path: Path, e: OSError) -> OutputError:
    return OutputError(path, f"cannot write it: {e.strerror or e}")


_TEMPORARY = re.compile(r"^\.(?P<final>.+)\.[a-z0-9_]{8}\.tmp[^/]*$")


def remove_temporaries(folder: str | Path, finals: set[str] | None = None) -> int:
    """Delete what a killed write left in ``folder`` (not its subfolders): :func:`atomic_path`'s temporary
    files, ``.<name>.<8 random>.tmp<suffix>``; their final files were never touched. With ``finals`` only the
    temporaries of those final file names (a process must not delete another's write in progress). Returns how
    many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    n = 0
    for p in folder.iterdir():
        m = _TEMPORARY.match(p.name)
        if m and p.is_file() and (finals is None or m.group("final") in finals):
            p.unlink(missing_ok=True)
            n += 1
    return n


def output_dir(path: str | Path) -> Path:
    """``path`` as a folder that exists (made with its parents), or :class:`~sac.errors.OutputError` saying
    why it cannot be (a file of that name, a read-only parent, a full disk)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)  # called on every atomic write: no stat beyond mkdir's own
    except FileExistsError as e:  # exist_ok tolerates a folder only
        raise OutputError(path, "is a file, not a folder") from e
    except OSError as e:
        raise OutputError(path, f"cannot make this folder: {e.strerror or e}") from e
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n")


@contextlib.contextmanager
def claim(path: str | Path) -> Iterator[bool]:
    """Claim the work that writes ``path`` among processes sharing its folder (several ``sac suite`` workers, on
    one machine or on several with a shared file system): yields True to the one process that holds
    ``<path>.claim`` (created with O_EXCL, removed on exit), False to every other one. A claim left by a
    process of this host that no longer runs (killed) is taken over; one of another host is respected."""
    lock = Path(str(path) + ".claim")
    lock.parent.mkdir(parents=True, exist_ok=True)
    me = {"host": os.uname().nodename, "pid": os.getpid()}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                held = json.loads(lock.read_text() or "{}")
            except (OSError, json.JSONDecodeError):
                held = {}
            if held.get("host") == me["host"] and not _alive(int(held.get("pid", 0))):
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                continue
            yield False
            return
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        try:
            yield True
        finally:
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
        return
    yield False


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def data_root() -> Path:
    """Root of the shared crack collection: ``$SAC_DATA`` or ``../shared/data`` from the working directory.

    The default is resolved relative to the current directory first and then to the repository
    root (two levels above this package's ``src`` folder).
    """
    env = os.environ.get("SAC_DATA")
    if env:
        return Path(env)
    cwd_guess = Path("../shared/data")
    if cwd_guess.exists():
        return cwd_guess.resolve()
    repo_root = Path(__file__).resolve().parents[2]
    return (repo_root.parent / "shared" / "data").resolve()


def weights_dirs() -> list[Path]:
    """Folders searched for user-supplied weight files: ``$SAC_WEIGHTS`` (os.pathsep-separated),
    ``~/.cache/sac/weights`` and ``../shared/weights`` beside the repository."""
    out: list[Path] = []
    env = os.environ.get("SAC_WEIGHTS")
    if env:
        out += [Path(p) for p in env.split(os.pathsep) if p]
    out.append(Path.home() / ".cache" / "sac" / "weights")
    repo_root = Path(__file__).resolve().parents[2]
    out.append(repo_root.parent / "shared" / "weights")
    return out
