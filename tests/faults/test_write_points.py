"""A crash (as ``kill -9``) or a failed call at every file operation of launcher, bundle --write-mounts and --undo.

The operations are counted in a clean run (inject.py ``count``); then each
trial starts from the same HOME and injects the fault at operation k, for
every k. Whatever k: each user file holds its original bytes or the complete
new ones (never a torn file), symlinks stay links, a failed call exits with
one line, a refusal leaves everything as it was, the next run finishes the
job and removes every temporary, and ``--undo`` then gives back the exact
original tree (bytes, modes, owners, links) with no ``.before-undo`` left.
"""
import pytest

from faultenv import content

KINDS = ["fresh", "existing", "symlinks"]


def _new_contents(base, tmp_path, *command):
    """The files a clean run writes, and its operation count."""
    probe = base.copy_to(tmp_path / "probe")
    result, calls = probe.inject("count", 0, *command)
    assert result.returncode == 0, result.stderr
    assert calls, "no file operation was counted"
    return (content(probe.config), content(probe.mounts)), calls


def _check_whole(trial, base, new):
    """Every user file is its original or its complete new content; a link is still the same link."""
    for path, original, written in ((trial.config, content(base.config), new[0]),
                                    (trial.mounts, content(base.mounts), new[1])):
        now = content(path)
        assert now in (original, written), (path, now[:80] if now else now)
        if base.config.is_symlink():
            assert path.is_symlink(), path


def _one_line_error(result):
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if ": error:" in line or "internal error" in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in errors[0], errors[0]


def _finish_and_undo(trial, before, new, *command):
    trial.ok(*command)
    assert (content(trial.config), content(trial.mounts)) == new
    assert not [p for p in trial.leftovers() if ".tsf-tmp-" in p]  # the next run removed the temporaries
    trial.ok("launcher", "--undo")
    assert trial.files() == before
    assert not trial.leftovers()


@pytest.mark.parametrize("mode", ["crash", "fail"])
@pytest.mark.parametrize("kind", KINDS)
def test_launcher_at_every_write_point(make_home, tmp_path, trials, kind, mode):
    base = make_home(kind)
    before = base.files()
    new, calls = _new_contents(base, tmp_path, "launcher")
    for k in range(1, len(calls) + 1):
        trial = base.copy_to(tmp_path / f"trial-{k}")
        result, _ = trial.inject(mode, k, "launcher")
        _check_whole(trial, base, new)
        if mode == "crash":
            assert result.returncode == 137, (k, calls[k - 1], result.stderr)
        elif result.returncode:
            _one_line_error(result)
            assert result.returncode == 1
            assert trial.files() == before, (k, calls[k - 1], result.stderr)  # refused or rolled back: as it was
        _finish_and_undo(trial, before, new, "launcher")
    trials(f"launcher, {mode} at each of its write points", len(calls))


@pytest.mark.parametrize("mode", ["crash", "fail"])
@pytest.mark.parametrize("kind", KINDS)
def test_undo_at_every_write_point(make_home, trials, kind, mode):
    def set_up(name):  # the state names absolute paths: each trial is set up afresh, not copied
        home = make_home(kind, name)
        before = home.files()
        original = {"config": content(home.config), "mounts": content(home.mounts)}
        home.ok("launcher")
        return home, before, original, {"config": content(home.config), "mounts": content(home.mounts)}

    probe, before, _, _ = set_up("probe")
    result, calls = probe.inject("count", 0, "launcher", "--undo")
    assert result.returncode == 0 and probe.files() == before, result.stdout + result.stderr
    for k in range(1, len(calls) + 1):
        trial, before, original, new = set_up(f"trial-{k}")
        result, _ = trial.inject(mode, k, "launcher", "--undo")
        paths = {"config": trial.config, "mounts": trial.mounts}
        for which, path in paths.items():
            assert content(path) in (original[which], new[which]), (k, calls[k - 1], which)
        if mode == "fail":
            assert result.returncode in (0, 1), (k, calls[k - 1], result.stderr)
            for line in result.stdout.splitlines():  # every "X: restored" it printed is true of X
                path, _, what = line.partition(": ")
                if what.startswith("restored"):
                    which = next(w for w, p in paths.items() if str(p) == path)
                    assert content(paths[which]) == original[which], (k, calls[k - 1], line)
        trial.ok("launcher", "--undo")
        assert trial.files() == before, (k, calls[k - 1])
        assert not trial.leftovers()
    trials(f"launcher --undo, {mode} at each of its write points", len(calls))


def test_bundle_write_mounts_at_every_write_point(make_home, tmp_path, trials):
    base = make_home("existing")
    bundle_dir = base.root / "bundle"
    base.ok("bundle", str(bundle_dir))  # built once, for real; the trials skip the build (inject.py)
    before = base.files()
    original = content(base.mounts)
    probe = base.copy_to(tmp_path / "probe")
    result, calls = probe.inject("count", 0, "bundle", str(probe.root / "bundle"), "--write-mounts")
    assert result.returncode == 0, result.stderr
    for mode in ("crash", "fail"):
        for k in range(1, len(calls) + 1):
            trial = base.copy_to(tmp_path / f"{mode}-{k}")
            command = ("bundle", str(trial.root / "bundle"), "--write-mounts")
            written = content(probe.mounts).replace(str(probe.root).encode(), str(trial.root).encode())
            result, _ = trial.inject(mode, k, *command)
            assert content(trial.mounts) in (original, written), (mode, k)
            if mode == "fail" and result.returncode:
                _one_line_error(result)
                assert trial.files() == before, (k, calls[k - 1])
            result, _ = trial.inject("count", 0, *command)  # finish the job
            assert result.returncode == 0 and content(trial.mounts) == written
            assert not trial.leftovers()
            trial.ok("launcher", "--undo")
            assert trial.files() == before and content(trial.mounts) == original
        trials(f"bundle --write-mounts, {mode} at each of its write points", len(calls))
