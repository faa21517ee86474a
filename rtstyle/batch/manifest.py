"""The batch manifest: what was finished, from which input, with which model and options.

``OUT_DIR/.rtstyle-batch/manifest.jsonl`` holds one JSON line per finished output (a whole file or one chunk of
a long video), appended and synced by the driver as each one finishes, after a "started" line for every output the
batch is about to write (so an output that a kill left between its rename and its line is known to be the batch's); the last line for an output wins (the file is rewritten
with only those when it has grown to mostly superseded lines). A line cut short by a kill is ignored when the
manifest is read again. An output counts as finished when its line's
fingerprint (model digests and options) matches, the input still has the size and modification time recorded,
and the output file still has the size and modification time recorded: anything else is done again.

``OUT_DIR/.rtstyle-batch/lock`` is held (``flock``) while a batch runs, so two batches never write one folder.

An ``--out-dir`` URL (:mod:`rtstyle.batch.remote`) keeps the same file at ``URL/.rtstyle-batch/manifest.jsonl``: it is
read at open into a local working copy, and the whole file is uploaded again (atomically) after every change, so
a batch restarted on any machine resumes from it. The lock is then local to the driver's machine only.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from rtstyle.batch import remote
from rtstyle.batch.remote import Loc
from rtstyle.errors import InputError, OutputError

MANIFEST = "manifest.jsonl"


def _stat(path: Loc) -> list[Any] | None:
    return remote.stat(path)


class Manifest:
    """Read at open, appended as outputs finish; ``close()`` releases the lock."""

    def __init__(self, state_dir: Path, remote_dir: str | None = None) -> None:
        """``remote_dir``: the state folder's URL; ``state_dir`` is then a local working folder for it."""
        self.state_dir = state_dir
        self.path = state_dir / MANIFEST
        self.remote = remote.join(remote_dir, MANIFEST) if remote_dir else None
        self.shown = str(self.remote or self.path)  # where the manifest is, as the user knows it
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {state_dir}: {exc.strerror or exc}") from None
        self._lock = self._take_lock(state_dir / "lock")
        if isinstance(self.remote, str) and remote.exists(self.remote):
            try:
                remote.fetch(self.remote, self.path)
            except InputError as exc:
                raise OutputError(str(exc)) from None
        self.entries: dict[str, dict[str, Any]] = {}
        lines = 0
        try:
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    lines += 1
                    try:
                        entry = json.loads(line)
                    except ValueError:  # a line cut short by a kill
                        continue
                    if isinstance(entry, dict) and isinstance(entry.get("out"), str):
                        self.entries[entry["out"]] = entry
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise OutputError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        if lines > 2 * len(self.entries) + 64:  # mostly superseded lines: keep the last one of each output
            self._compact()
        try:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open until close()
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    @staticmethod
    def _take_lock(path: Path) -> Any:
        try:
            f = open(path, "a+")  # noqa: SIM115 - held for the batch's life
        except OSError as exc:
            raise OutputError(f"cannot write {path.parent}: {exc.strerror or exc}") from None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock
            return f
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise OutputError(
                f"another rtstyle batch is writing into {path.parent.parent}; wait for it or choose another --out-dir"
            ) from None
        return f

    def _compact(self) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", suffix=".part", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(e) + "\n" for e in self.entries.values())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            self._push()
        except BaseException as exc:  # Ctrl-C too: no temporary file left in the state folder
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if not isinstance(exc, (OSError, OutputError)):
                raise  # a failed compaction is not needed for correctness: the long file still reads the same

    def _push(self) -> None:
        """A URL out-dir: upload the local working copy (the whole file, atomically)."""
        if isinstance(self.remote, str):
            remote.upload(self.path, self.remote)

    def finished(self, out_key: str, output: Loc, fingerprint: str, inp: Loc) -> dict[str, Any] | None:
        """The entry of ``out_key`` when ``output`` is complete and made from ``inp`` as it is now with this
        fingerprint; else None."""
        entry = self.entries.get(out_key)
        if entry is None or entry.get("state", "done") != "done" or entry.get("fingerprint") != fingerprint:
            return None
        if list(entry.get("input_stat") or []) != list(_stat(inp) or []):
            return None
        if list(entry.get("output_stat") or []) != list(_stat(output) or [None]):
            return None
        return entry

    def _line(self, out_key: str, output: Loc, fingerprint: str, inp: Loc, **info: Any) -> str:
        entry = {
            "out": out_key,
            "input": str(inp),
            "input_stat": _stat(inp),
            "output_stat": _stat(output),
            "fingerprint": fingerprint,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **info,
        }
        self.entries[out_key] = entry
        return json.dumps(entry) + "\n"

    def _append(self, text: str) -> None:
        try:
            self._file.write(text)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._push()

    def record(self, out_key: str, output: Loc, fingerprint: str, inp: Loc, **info: Any) -> None:
        """Append the line for a finished output (flushed and synced: a kill right after keeps it)."""
        self._append(self._line(out_key, output, fingerprint, inp, state="done", **info))

    def claim(self, outputs: list[tuple[str, Loc, Loc]], fingerprint: str) -> None:
        """Record that this batch is about to write these ``(key, output, input)``: an output a kill left between
        its rename and its "done" line is then known to be the batch's own, and is made again without ``--force``."""
        if outputs:
            self._append("".join(self._line(k, out, fingerprint, inp, state="started") for k, out, inp in outputs))

    def claimed(self, out_key: str, fingerprint: str) -> bool:
        """True when the last line for ``out_key`` says this batch (with this fingerprint) started writing it."""
        entry = self.entries.get(out_key)
        return entry is not None and entry.get("state") == "started" and entry.get("fingerprint") == fingerprint

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._lock.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
