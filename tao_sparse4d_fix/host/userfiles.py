"""Every change to a user's own file (``~/.tao/config.json``, ``~/.tao_mounts.json``) and its undo.

The promise (docs/your-files.md): a command changes only what it must, all of
its files or none, and ``launcher --undo`` brings back the user's exact bytes,
mode, owner and symlinks, whatever ran in between. How:

* one exclusive lock (``flock`` on ``~/.tao-sparse4d-fix/lock``) over a whole
  command: reading the files, the backups, ``state.json`` and the writes, so
  concurrent runs serialise (the second says it is waiting);
* all or nothing: the new content of every file is first written and synced
  to a temporary file beside it (a folder we cannot write fails here, before
  anything changed); then the originals are backed up and recorded in
  ``state.json``; then the temporaries are renamed over the targets. A failed
  rename puts back what this command had renamed already;
* through a symlink: the link stays, its target gets the new bytes (and is
  what is backed up); mode and owner are kept; a read-only file is refused
  unless ``force``;
* backups are named by cycle (first change to full undo) and never reused;
  hand edits found at undo go to a new ``NAME.before-undo[.N]``, never over
  an older one, and only when the content is neither ours nor the original;
* undo restores what it can, says exactly what it could not and why, and
  keeps ``state.json`` (and those backups) while anything is unrestored;
* temporaries carry ``.tsf-tmp-``; one left by a killed run is removed by the
  next run (under the lock, so never one a live run is writing).
"""
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import stat
import sys
import time

from tao_sparse4d_fix.errors import CommandError

STATE_DIR = "~/.tao-sparse4d-fix"
STATE_FILE = "state.json"
LOCK_FILE = "lock"
BACKUP_DIR = "backup"
STATE_VERSION = 2
TMP_MARK = ".tsf-tmp-"
_STALE_TMP = re.compile(r"^\..+" + re.escape(TMP_MARK) + r"\d+-\d+$")
MAX_FILE_BYTES = 64 << 20  # a launcher map is ~100 kB; anything this large is not one


class MalformedFile(CommandError):
    """A user file we were asked to read or edit cannot be read safely; it is left untouched."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}. The file was left unchanged; fix or move it, then run again.")
        self.path = path
        self.problem = problem


class ChangeRefused(CommandError):
    """Nothing was changed: a target is read-only, unwritable, or the lock or state cannot be had."""


class ChangeFailed(CommandError):
    """A write failed midway; the message says what was put back (normally: everything)."""


def read_bytes(path):
    """The bytes of the regular file at ``path`` (following symlinks), or None when there is none."""
    try:
        # O_NONBLOCK: a FIFO in place of the file must not block the open; it is refused below
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise MalformedFile(path, f"cannot be read ({error.strerror})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise MalformedFile(path, "cannot be read (Is a directory)")
        if not stat.S_ISREG(info.st_mode):
            raise MalformedFile(path, "is not a regular file (a FIFO, socket or device)")
        if info.st_size > MAX_FILE_BYTES:
            raise MalformedFile(path, f"is {info.st_size} bytes, more than the {MAX_FILE_BYTES} a settings file can be")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as error:
        raise MalformedFile(path, f"cannot be read ({error.strerror})") from None
    finally:
        os.close(fd)


def read_json_object(path):
    """The JSON object stored at ``path``, or None when there is no file."""
    raw = read_bytes(path)
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MalformedFile(path, f"is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise MalformedFile(path, f"is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    except (RecursionError, ValueError) as error:
        raise MalformedFile(path, f"is not JSON this reader accepts ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise MalformedFile(path, f"holds a JSON {type(data).__name__}, not an object")
    return data


def render_json(data):
    """How we write JSON files: 4-space indent (as the launcher's own config), final newline."""
    return json.dumps(data, indent=4) + "\n"


def _sha256(raw):
    return hashlib.sha256(raw).hexdigest()


def _resolve(path):
    """(the file the bytes live in, the symlink's text or None): a link is written through, never replaced."""
    try:
        link = os.readlink(path)
    except OSError:
        return path, None
    return os.path.realpath(path), link


def _default_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _read_only(info):
    return not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


_counter = [0]


def _temp_name(target):
    _counter[0] += 1
    return os.path.join(os.path.dirname(target),
                        f".{os.path.basename(target)}{TMP_MARK}{os.getpid()}-{_counter[0]}")


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_temp(target, raw, mode, owner):
    """A synced temporary beside ``target`` holding ``raw`` with ``mode`` and ``owner``; its path."""
    tmp = _temp_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
            if owner is not None and (os.fstat(fd).st_uid, os.fstat(fd).st_gid) != owner:
                os.fchown(fd, *owner)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return tmp


def _replace(tmp, target):
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(os.path.dirname(target))


def _atomic_write(target, raw, mode, owner=None):
    _replace(_write_temp(target, raw, mode, owner), target)


def _missing_parents(directory):
    """``directory`` and its ancestors that do not exist yet, outermost first."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    return list(reversed(missing))


def _remove_empty_dirs(directories):
    removed = []
    for directory in reversed(directories):
        with contextlib.suppress(OSError):
            os.rmdir(directory)
            removed.append(directory)
    return removed


def _clean_stale(directories):
    """Remove temporaries a killed run left (we hold the lock: no live run is writing one)."""
    for directory in sorted(set(directories)):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if _STALE_TMP.match(name):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(directory, name))


class _Plan:
    """One file of a change: where it is, what it held, what it will hold."""

    def __init__(self, path, new):
        self.path = os.path.abspath(path)
        self.target, self.link = _resolve(self.path)
        self.new = new
        self.old = read_bytes(self.target)
        self.info = os.stat(self.target) if self.old is not None else None
        self.tmp = None
        self.created_dirs = []

    @property
    def mode(self):
        return stat.S_IMODE(self.info.st_mode) if self.info else _default_mode()

    @property
    def owner(self):
        return (self.info.st_uid, self.info.st_gid) if self.info else None


class UserFiles:
    """The backups, ``state.json`` and the lock; every change and undo goes through ``locked()``."""

    def __init__(self, state_dir=STATE_DIR, notify=None):
        self.root = os.path.expanduser(state_dir)
        self.state_path = os.path.join(self.root, STATE_FILE)
        self.lock_path = os.path.join(self.root, LOCK_FILE)
        self._notify = notify or (lambda line: print(line, file=sys.stderr))
        self._held = None

    # ------------------------------------------------------------------ lock

    @contextlib.contextmanager
    def locked(self):
        """Hold the lock for the block; the state folder goes when it records nothing."""
        try:
            self._held = self._acquire()
        except OSError as error:
            _remove_empty_dirs([self.root])
            raise ChangeRefused(f"cannot take the lock {self.lock_path} ({error.strerror}); nothing was changed") from None
        try:
            _clean_stale([self.root, os.path.join(self.root, BACKUP_DIR)]
                         + [os.path.dirname(r["target"]) for r in self._load()["files"].values()])
            yield self
        finally:
            try:
                self._tidy()
            finally:
                os.close(self._held)
                self._held = None

    def _tidy(self):
        """With no file recorded: the folders we made (a killed run's too), then the state folder itself."""
        try:
            state = self._load()
        except MalformedFile:
            return
        if state["files"]:
            return
        _remove_empty_dirs(state["created_dirs"])
        with contextlib.suppress(OSError):
            os.remove(self.state_path)
        _remove_empty_dirs([self.root, os.path.join(self.root, BACKUP_DIR)])
        with contextlib.suppress(OSError):
            os.remove(self.lock_path)  # waiters see the inode gone and take a new one
        _remove_empty_dirs([self.root])

    def _acquire(self):
        waiting = False
        while True:
            os.makedirs(self.root, exist_ok=True)
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
            except FileNotFoundError:
                continue  # the folder was removed by a run that just finished
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not waiting:
                    self._notify(f"waiting for another tao-sparse4d-fix command to finish (lock {self.lock_path})")
                    waiting = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                held = os.fstat(fd)
                now = os.stat(self.lock_path)
                if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)  # that lock file was removed while we waited: take the new one

    # ------------------------------------------------------------------ state

    def _load(self):
        state = read_json_object(self.state_path)
        if state is None:
            return {"version": STATE_VERSION, "cycle": time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}",
                    "files": {}, "created_dirs": []}
        if not isinstance(state.get("files"), dict) or not isinstance(state.get("created_dirs"), list):
            raise MalformedFile(self.state_path, "is not a tao-sparse4d-fix state file (keys 'files' and 'created_dirs')")
        if state.get("version") != STATE_VERSION:
            state = self._from_version_1(state)
        return state

    def _from_version_1(self, state):
        """tao-sparse4d-fix 0.2.0's state: absolute backup paths, one written hash, no links."""
        files = {}
        for path, record in state["files"].items():
            backup = record.get("backup")
            raw = read_bytes(backup) if backup else None
            files[path] = {"target": path, "link": None, "existed": bool(record.get("existed")),
                           "original_sha256": _sha256(raw) if raw is not None else None,
                           "backup": os.path.relpath(backup, self.root) if backup else None,
                           "mode": record.get("mode"), "owner": None,
                           "written_sha256": [record["written_sha256"]] if record.get("written_sha256") else []}
        return {"version": STATE_VERSION, "cycle": "v1", "files": files, "created_dirs": state["created_dirs"]}

    def _save(self, state):
        if not state["files"] and not state["created_dirs"]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.state_path)
            return
        os.makedirs(self.root, exist_ok=True)
        _atomic_write(self.state_path, render_json(state).encode(), 0o600)

    def changed_files(self):
        """Paths of the user files changed so far (undo would restore them)."""
        return sorted(self._load()["files"])

    # ------------------------------------------------------------------ change

    def commit(self, changes, force=False):
        """Give each ``(path, text)`` its text, all or none; returns the paths written (unchanged ones are not)."""
        assert self._held is not None, "commit() outside locked()"
        plans = [plan for plan in (_Plan(path, text.encode("utf-8")) for path, text in changes) if plan.old != plan.new]
        if not plans:
            return []
        _clean_stale(os.path.dirname(plan.target) for plan in plans)
        read_only = [plan for plan in plans
                     if plan.info is not None and (_read_only(plan.info) or not os.access(plan.target, os.W_OK))]
        if read_only and not force:
            plan = read_only[0]
            where = plan.path if plan.target == plan.path else f"{plan.path} (a link to {plan.target})"
            raise ChangeRefused(f"{where} is read-only (mode {plan.mode:o}); nothing was changed. "
                                "Make it writable, or run again with --force to change it anyway")
        state = self._load()
        self._stage(plans, state)
        new_records = self._record(plans, state)
        done = []
        try:
            for plan in plans:
                _replace(plan.tmp, plan.target)
                done.append(plan)
        except OSError as error:
            self._roll_back(plans, done, state, new_records, plan, error)
        return [plan.path for plan in plans]

    def _stage(self, plans, state):
        """Every new content, synced beside its target: what cannot be written fails before anything changed.

        A folder is recorded before it is made, so a killed run's folder is
        still ours to remove.
        """
        try:
            for plan in plans:
                parent = os.path.dirname(plan.target)
                plan.created_dirs = _missing_parents(parent)
                if plan.created_dirs:
                    state["created_dirs"].extend(d for d in plan.created_dirs if d not in state["created_dirs"])
                    self._save(state)
                    os.makedirs(parent)
                plan.tmp = _write_temp(plan.target, plan.new, plan.mode, plan.owner)
        except OSError as error:
            self._discard(plans)
            raise ChangeRefused(f"{plan.path}: cannot write in {os.path.dirname(plan.target)} "
                                f"({error.strerror}); nothing was changed") from None

    def _discard(self, plans):
        for plan in plans:
            if plan.tmp is not None:
                with contextlib.suppress(OSError):
                    os.remove(plan.tmp)
                plan.tmp = None
        for plan in reversed(plans):
            _remove_empty_dirs(plan.created_dirs)

    def _record(self, plans, state):
        """Record the originals (and what we write), then back them up, all before any file changes.

        The state is saved before a backup is written: a crash between the two
        leaves a record whose backup is missing while the file still holds the
        original bytes, which undo recognises by their hash. So a backup file
        never exists that the state does not name.
        """
        new_records, to_back_up = [], []
        try:
            for plan in plans:
                record = state["files"].get(plan.path)
                if record is None:
                    record = {"target": plan.target, "link": plan.link, "existed": plan.old is not None,
                              "original_sha256": None, "backup": None, "mode": None, "owner": None,
                              "written_sha256": []}
                    if plan.old is not None:
                        record.update(original_sha256=_sha256(plan.old), mode=plan.mode, owner=list(plan.owner),
                                      backup=self._backup_name(state, plan))
                        to_back_up.append((record, plan))
                    state["files"][plan.path] = record
                    new_records.append(plan.path)
                elif (record["existed"] and plan.old is not None and _sha256(plan.old) == record["original_sha256"]
                      and not self._backup_intact(record)):
                    to_back_up.append((record, plan))  # a killed run recorded it but never wrote the backup
                if _sha256(plan.new) not in record["written_sha256"]:
                    record["written_sha256"].append(_sha256(plan.new))
            self._save(state)
            for record, plan in to_back_up:
                os.makedirs(os.path.join(self.root, BACKUP_DIR), exist_ok=True)
                _atomic_write(os.path.join(self.root, record["backup"]), plan.old, 0o600)
        except OSError as error:
            self._discard(plans)
            with contextlib.suppress(OSError):
                self._forget(state, new_records)
            raise ChangeRefused(f"cannot record the backups in {self.root} ({error.strerror}); nothing was changed") from None
        return new_records

    def _backup_name(self, state, plan):
        taken = {r["backup"] for r in state["files"].values()}
        number = len(state["files"])
        while True:
            name = os.path.join(BACKUP_DIR, f"{state['cycle']}-{number}-{os.path.basename(plan.target)}")
            if name not in taken and not os.path.lexists(os.path.join(self.root, name)):
                return name
            number += 1

    def _backup_intact(self, record):
        try:
            raw = read_bytes(os.path.join(self.root, record["backup"]))
        except MalformedFile:
            return False
        return raw is not None and _sha256(raw) == record["original_sha256"]

    def _forget(self, state, paths):
        """Drop the records of ``paths``: each backup goes first, then the state is saved."""
        for path in paths:
            record = state["files"].get(path)
            if record is None:
                continue
            if record["backup"]:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(self.root, record["backup"]))
            del state["files"][path]  # only once its backup is gone: no backup the state does not name
        self._save(state)

    def _roll_back(self, plans, done, state, new_records, failed, error):
        """Put back what this command renamed already; the state keeps only what is still changed."""
        stuck = []
        for plan in reversed(done):
            try:
                if plan.old is None:
                    os.remove(plan.target)
                else:
                    _atomic_write(plan.target, plan.old, plan.mode, plan.owner)
            except OSError as undo_error:
                stuck.append(f"{plan.path} ({undo_error.strerror})")
        self._discard([plan for plan in plans if plan not in done])
        if stuck:
            raise ChangeFailed(f"{failed.path}: cannot write ({error.strerror}), and {', '.join(stuck)} could not be "
                               f"put back: run tao-sparse4d-fix launcher --undo (the backups are in {self.root})") from None
        with contextlib.suppress(OSError):
            self._forget(state, new_records)
        _remove_empty_dirs([d for plan in plans for d in plan.created_dirs])
        raise ChangeFailed(f"{failed.path}: cannot write ({error.strerror}); every file is as it was "
                           "before this command") from None

    # ------------------------------------------------------------------ undo

    def undo(self):
        """Restore every changed file; ``(rows, complete)``: rows of (path, what happened), and whether all were.

        A restored file leaves the state at once (its backup first); the last
        one leaves it only after the folders we created are gone, so a killed
        undo leaves nothing that a second undo would not finish.
        """
        assert self._held is not None, "undo() outside locked()"
        state = self._load()
        rows, unrestored, stuck = [], [], []
        paths = sorted(state["files"])
        for path in paths:
            try:
                rows.extend(self._undo_one(path, state["files"][path]))
            except _NotRestored as why:
                rows.append((path, f"NOT restored: {why}"))
                unrestored.append(path)
                continue
            if path != paths[-1] or unrestored:
                self._drop(state, [path], stuck)
        if not unrestored:
            for directory in _remove_empty_dirs(state["created_dirs"]):
                rows.append((directory, "removed (created by tao-sparse4d-fix)"))
            # gone, or holding files that are not ours; one left empty stays recorded (the tidy retries)
            state["created_dirs"] = [d for d in state["created_dirs"] if os.path.isdir(d) and not os.listdir(d)]
            self._drop(state, paths, stuck)
        if stuck:
            rows.append((self.state_path, f"could not be updated ({stuck[0]}): run --undo again"))
        if unrestored or stuck:
            rows.append((self.root, "kept: it records what is not restored yet (run --undo again once fixed)"))
            return rows, False
        return rows, True

    def _drop(self, state, paths, stuck):
        try:
            self._forget(state, paths)
        except OSError as error:
            stuck.append(error.strerror or str(error))

    def _undo_one(self, path, record):
        target, link = record["target"], record["link"]
        try:
            current = read_bytes(path)
        except MalformedFile as error:
            raise _NotRestored(f"cannot read it now ({error.problem}); left as it is") from None
        current_sha = _sha256(current) if current is not None else None
        original = None
        if record["existed"]:
            original = self._original(record, current)
        rows = []
        if current is not None and current_sha not in record["written_sha256"] and current_sha != record["original_sha256"]:
            rows.append((self._keep_aside(path, current), "kept your later edits of this file here"))
        try:
            if record["existed"]:
                if link is not None and _resolve(path)[1] != link:
                    self._put_link_back(path, link)
                if current_sha == record["original_sha256"] and _resolve(path) == (target, link):
                    self._set_mode(target, record)
                    rows.append((path, "restored (it already held its original bytes)"))
                else:
                    _atomic_write(target, original, record["mode"], tuple(record["owner"]) if record["owner"] else None)
                    rows.append((path, "restored"))
            else:
                if current is not None:
                    os.remove(_resolve(path)[0])
                if link is not None and _resolve(path)[1] != link:
                    self._put_link_back(path, link)  # it was a link to no file: the link stays, as it was
                rows.append((path, "removed (it did not exist before)" if current is not None
                             else "absent, as before (it did not exist before)"))
        except OSError as error:
            raise _NotRestored(f"cannot write it ({error.strerror}); left as it is") from None
        return rows

    def _original(self, record, current):
        backup = os.path.join(self.root, record["backup"]) if record["backup"] else None
        try:
            raw = read_bytes(backup) if backup else None
        except MalformedFile as error:
            raw, problem = None, error.problem
        else:
            problem = "is missing"
        if raw is not None and (record["original_sha256"] is None or _sha256(raw) == record["original_sha256"]):
            return raw
        if raw is not None:
            problem = "no longer holds the original bytes"
        if current is not None and _sha256(current) == record["original_sha256"]:
            return current  # the file holds its original bytes already
        raise _NotRestored(f"its backup {backup} {problem}; the file is left as it is")

    @staticmethod
    def _set_mode(target, record):
        if record["mode"] is not None and stat.S_IMODE(os.stat(target).st_mode) != record["mode"]:
            os.chmod(target, record["mode"])

    @staticmethod
    def _put_link_back(path, link):
        tmp = _temp_name(path)
        os.symlink(link, tmp)
        _replace(tmp, path)

    @staticmethod
    def _keep_aside(path, raw):
        """``raw`` in a new ``PATH.before-undo`` (``.2``, ``.3``... when taken): never over an earlier one.

        Written whole to a temporary first, then hard-linked to a free name (a
        link never replaces a file), so a crash leaves no partial copy.
        """
        keep = path + ".before-undo"
        try:
            tmp = _write_temp(keep, raw, _default_mode(), None)
            try:
                for number in range(1, 10_000):
                    name = keep + (f".{number}" if number > 1 else "")
                    try:
                        os.link(tmp, name)
                        return name
                    except FileExistsError:
                        with contextlib.suppress(MalformedFile):
                            if read_bytes(name) == raw:
                                return name  # kept already (an undo killed after keeping it)
                        continue
                raise OSError(errno.EEXIST, "too many earlier copies")
            finally:
                os.remove(tmp)
        except OSError as error:
            raise _NotRestored(f"your later edits could not be kept in {keep} ({error.strerror}); "
                               "left as it is") from None


class _NotRestored(Exception):
    """Why one file could not be restored; it is left as it is and stays recorded."""

