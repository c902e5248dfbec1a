"""Edits of the user's own files (``~/.tao/config.json``, ``~/.tao_mounts.json``), with a way back.

Before the first change to a file its original bytes (or the fact that it did
not exist) are kept under ``~/.tao-sparse4d-fix/backup/``; later runs never
overwrite that backup, so ``undo()`` always returns to the state before
tao-sparse4d-fix touched anything: the same bytes and mode, or no file at all.
Writes are atomic (a temporary file renamed over the target), and a file whose
content would not change is not written at all.
"""
import hashlib
import json
import os
import shutil
import tempfile

STATE_DIR = "~/.tao-sparse4d-fix"
STATE_FILE = "state.json"


class MalformedFile(ValueError):
    """A user file we were asked to edit cannot be read safely; it is left untouched."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}. The file was left unchanged; fix or move it, then run again.")
        self.path = path
        self.problem = problem


def read_json_object(path):
    """The JSON object stored at ``path``, or None when there is no file."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise MalformedFile(path, f"cannot be read ({error.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MalformedFile(path, f"is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise MalformedFile(path, f"is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    if not isinstance(data, dict):
        raise MalformedFile(path, f"holds a JSON {type(data).__name__}, not an object")
    return data


def render_json(data):
    """How we write JSON files: 4-space indent (as the launcher's own config), final newline."""
    return json.dumps(data, indent=4) + "\n"


def _sha256(raw):
    return hashlib.sha256(raw).hexdigest()


class Backups:
    """The backup store and the record of what was written where."""

    def __init__(self, state_dir=STATE_DIR):
        self.root = os.path.expanduser(state_dir)
        self.backup_dir = os.path.join(self.root, "backup")

    # ------------------------------------------------------------------ state

    def _load(self):
        path = os.path.join(self.root, STATE_FILE)
        state = read_json_object(path)
        if state is None:
            return {"files": {}, "created_dirs": []}
        if not isinstance(state.get("files"), dict) or not isinstance(state.get("created_dirs"), list):
            raise MalformedFile(path, "is not a tao-sparse4d-fix state file (keys 'files' and 'created_dirs')")
        return state

    def _save(self, state):
        os.makedirs(self.root, exist_ok=True)
        _atomic_write(os.path.join(self.root, STATE_FILE), render_json(state).encode(), None)

    def changed_files(self):
        """Paths of the user files changed so far (undo would restore them)."""
        return sorted(self._load()["files"])

    # ------------------------------------------------------------------ write

    def write(self, path, text):
        """Give ``path`` the content ``text``; back up the original first. Returns False if unchanged."""
        path = os.path.abspath(path)
        new = text.encode("utf-8")
        try:
            with open(path, "rb") as handle:
                old = handle.read()
        except FileNotFoundError:
            old = None
        if old == new:
            return False
        state = self._load()
        record = state["files"].get(path)
        if record is None:
            record = {"existed": old is not None, "backup": None, "mode": None}
            if old is not None:
                os.makedirs(self.backup_dir, exist_ok=True)
                record["backup"] = os.path.join(self.backup_dir, f"{len(state['files'])}-{os.path.basename(path)}")
                shutil.copy2(path, record["backup"])
                record["mode"] = os.stat(path).st_mode & 0o7777
            state["files"][path] = record
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            created = _missing_parents(parent)
            os.makedirs(parent)
            state["created_dirs"].extend(d for d in created if d not in state["created_dirs"])
        record["written_sha256"] = _sha256(new)
        self._save(state)  # the backup is recorded before the file changes
        _atomic_write(path, new, record["mode"] if old is not None else None)
        return True

    # ------------------------------------------------------------------ undo

    def undo(self):
        """Restore every changed file byte for byte (remove those that did not exist).

        A file edited by hand after we wrote it is kept beside it as
        ``<name>.before-undo`` before it is restored, so nothing is lost.
        Returns a list of (path, what was done).
        """
        state = self._load()
        done = []
        for path, record in sorted(state["files"].items()):
            try:
                with open(path, "rb") as handle:
                    current = handle.read()
            except FileNotFoundError:
                current = None
            if current is not None and _sha256(current) != record.get("written_sha256"):
                keep = path + ".before-undo"
                _atomic_write(keep, current, None)
                done.append((keep, "kept your later edits of this file here"))
            if record["existed"]:
                with open(record["backup"], "rb") as handle:
                    _atomic_write(path, handle.read(), record["mode"])
                done.append((path, "restored"))
            elif current is not None:
                os.remove(path)
                done.append((path, "removed (it did not exist before)"))
        for directory in reversed(state["created_dirs"]):
            if os.path.isdir(directory) and not os.listdir(directory):
                os.rmdir(directory)
                done.append((directory, "removed (created by tao-sparse4d-fix)"))
        shutil.rmtree(self.root, ignore_errors=True)
        return done


def _missing_parents(directory):
    """``directory`` and its ancestors that do not exist yet, outermost first."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    return list(reversed(missing))


def _atomic_write(path, raw, mode):
    handle, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path))
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
