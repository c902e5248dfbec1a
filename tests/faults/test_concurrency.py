"""Concurrent runs (two terminals, a provisioning script run twice) and real ``kill -9``, over many trials.

Each trial starts the commands at the same moment in one scratch HOME, waits
for all, then runs ``launcher --undo``: the user's exact original tree must
come back, whatever the interleaving. ``TSF_FAULT_TRIALS`` scales the counts
(default 1: 40 trials of 2 runs, 20 of 4, 10 mixed, 30 kills).
"""
import os
import random
import signal
import time

import pytest

from faultenv import CUSTOM, content

SCALE = int(os.environ.get("TSF_FAULT_TRIALS", "1"))


@pytest.mark.parametrize("runs,count", [(2, 40), (4, 20)])
def test_concurrent_launcher_runs_then_undo(make_home, trials, runs, count):
    for trial in range(count * SCALE):
        home = make_home("existing", f"trial-{trial}")
        before = home.files()
        started = [home.popen("launcher") for _ in range(runs)]
        results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in started]
        assert [status for status, _, _ in results] == [0] * runs, results
        # serialised: exactly one run wrote; the others found everything set up
        assert sum("wrote " in out for _, out, _ in results) == 1, results
        assert sum("nothing to change" in out for _, out, _ in results) == runs - 1, results
        view = home.launcher_view()
        assert view["images"]["model sparse4d"].endswith("-sparse4d-fix")
        assert view["mounts"]["Envs"] == ["WANDB_MODE=offline", "TAO_SPARSE4D_FIX=1"]
        undo = home.ok("launcher", "--undo")
        assert f"{home.config}: restored" in undo.stdout and f"{home.mounts}: restored" in undo.stdout
        assert home.files() == before, trial
    trials(f"{runs} concurrent launcher runs, then --undo", count * SCALE)


def test_concurrent_mixed_commands_then_undo(make_home, trials):
    """launcher, launcher --image, launcher --undo and bundle --write-mounts at once, in random order."""
    count = 10 * SCALE
    for trial in range(count):
        home = make_home("existing", f"trial-{trial}")
        bundle_dir = home.root / "bundle"
        if trial == 0:
            home.ok("bundle", str(bundle_dir))
            built = bundle_dir
        else:
            os.symlink(built, bundle_dir)  # the same bundle; inject.py count skips the rebuild
        before = home.files()
        commands = [("launcher",), ("launcher", "--image", CUSTOM), ("launcher", "--undo")]
        random.Random(trial).shuffle(commands)
        started = [home.popen(*command) for command in commands]
        bundle = home.inject("count", 0, "bundle", str(bundle_dir), "--write-mounts")[0]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in started]
        assert [status for status, _ in results] == [0, 0, 0] and bundle.returncode == 0, (results, bundle.stderr)
        assert not home.leftovers()
        home.ok("launcher", "--undo")
        assert home.files() == before, trial
    trials("4 mixed concurrent commands (launcher, --image, --undo, bundle --write-mounts), then --undo", count)


def test_kill_9_at_a_random_moment(make_home, trials):
    count = 30 * SCALE
    timing = make_home("existing", "timing")
    start = time.monotonic()
    timing.ok("launcher")
    duration = time.monotonic() - start
    rng = random.Random(20)
    for trial in range(count):
        home = make_home("existing", f"trial-{trial}")
        before = home.files()
        original = (content(home.config), content(home.mounts))
        process = home.popen("launcher")
        time.sleep(rng.uniform(0.3, 1.0) * duration)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        new = new_contents(timing, home)
        assert content(home.config) in (original[0], new[0]) and content(home.mounts) in (original[1], new[1])
        home.ok("launcher")
        assert not home.leftovers()
        home.ok("launcher", "--undo")
        assert home.files() == before, trial
    trials("launcher killed (SIGKILL) at a random moment, then run again and --undo", count)


def new_contents(timing, home):
    """What a complete run writes in ``home`` (the timing run's files, with its paths)."""
    swap = (str(timing.root).encode(), str(home.root).encode())
    return content(timing.config).replace(*swap), content(timing.mounts).replace(*swap)
