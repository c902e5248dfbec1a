"""The cases a user's files meet: symlinks, read-only files and folders, missing backups, hand edits, a FIFO.

The assertion is always the user's exact tree (bytes, modes, links) after
undo, or the documented refusal with nothing changed. Folders we may not
write are made so by inject.py ``deny`` (root writes anywhere, and these
tests run as root in CI).
"""
import fcntl
import json
import os
import stat
import threading

from faultenv import CUSTOM

STOCK = "nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt"


def one_error_line(result):
    lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_symlinked_files_stay_links_and_undo_restores_their_targets(make_home):
    home = make_home("symlinks")
    before = home.files()
    home.ok("launcher")
    assert os.readlink(home.config) == "../../dotfiles/tao-config.json"
    assert os.readlink(home.mounts) == "../dotfiles/tao_mounts.json"
    assert stat.S_IMODE(os.stat(home.dotfiles / "tao-config.json").st_mode) == 0o640  # the target's mode kept
    view = home.launcher_view()  # the launcher reads the new content through the links
    assert view["images"]["model sparse4d"].endswith("-sparse4d-fix")
    assert view["mounts"]["Envs"] == ["WANDB_MODE=offline", "TAO_SPARSE4D_FIX=1"]
    home.ok("launcher", "--undo")
    assert home.files() == before


def test_a_link_replaced_by_hand_is_put_back_at_undo(make_home):
    home = make_home("symlinks")
    before = home.files()
    home.ok("launcher")
    edited = b'{"Mounts": []}'
    home.mounts.unlink()
    home.mounts.write_bytes(edited)  # the user replaced the link with a file of their own
    result = home.ok("launcher", "--undo")
    assert "kept your later edits" in result.stdout
    kept = home.home / ".tao_mounts.json.before-undo"
    assert kept.read_bytes() == edited
    kept.unlink()
    assert home.files() == before


def test_a_read_only_file_is_refused_unless_forced(make_home):
    home = make_home("existing")
    os.chmod(home.config, 0o444)
    before = home.files()
    result = home.cli("launcher")
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"tao-sparse4d-fix launcher: error: {home.config} is read-only (mode 444); nothing was changed. "
        "Make it writable, or run again with --force to change it anyway")
    assert home.files() == before
    home.ok("launcher", "--force")
    assert stat.S_IMODE(os.stat(home.config).st_mode) == 0o444  # still read-only, new content
    assert "sparse4d-fix" in home.config.read_text()
    home.ok("launcher", "--undo")
    assert home.files() == before


def test_a_read_only_link_target_is_named(make_home):
    home = make_home("symlinks")
    os.chmod(home.dotfiles / "tao_mounts.json", 0o400)
    before = home.files()
    result = home.cli("launcher")
    assert result.returncode == 1
    assert (f"{home.mounts} (a link to {home.dotfiles / 'tao_mounts.json'}) is read-only (mode 400)"
            in one_error_line(result))
    assert home.files() == before


def test_an_unwritable_mounts_folder_changes_nothing(make_home):
    home = make_home("existing")
    folder = home.root / "locked"
    folder.mkdir()
    elsewhere = folder / "mounts.json"
    elsewhere.write_text('{"Mounts": []}')
    before = home.files()
    result, _ = home.inject("deny", folder, "launcher", LAUNCHER_MOUNTS=str(elsewhere))
    assert result.returncode == 1
    assert one_error_line(result) == (f"tao-sparse4d-fix launcher: error: {elsewhere}: cannot write in {folder} "
                                      "(Permission denied); nothing was changed")
    assert home.files() == before  # config.json was not rewritten either: all or nothing
    assert elsewhere.read_text() == '{"Mounts": []}' and os.listdir(folder) == ["mounts.json"]


def test_an_unwritable_tao_folder_records_nothing(make_home):
    home = make_home("existing")
    before = home.files()
    result, _ = home.inject("deny", home.config.parent, "launcher")
    assert result.returncode == 1
    assert f"{home.config}: cannot write in {home.config.parent} (Permission denied)" in one_error_line(result)
    assert home.files() == before  # no state folder: nothing recorded that did not happen
    assert home.ok("launcher", "--undo").stdout.startswith("nothing to undo")


def test_an_unwritable_state_folder_is_refused_before_anything(make_home):
    home = make_home("existing")
    before = home.files()
    result, _ = home.inject("deny", home.home, "launcher")
    assert result.returncode == 1
    assert one_error_line(result).startswith(
        f"tao-sparse4d-fix launcher: error: cannot take the lock {home.state}/lock (Permission denied)")
    assert home.files() == before


def test_a_backup_deleted_by_hand(make_home):
    home = make_home("existing")
    original_mounts = home.mounts.read_bytes()
    home.ok("launcher")
    ours = home.config.read_bytes()
    (backup,) = [p for p in (home.state / "backup").iterdir() if p.name.endswith("config.json")]
    backup.unlink()
    result = home.cli("launcher", "--undo")
    assert result.returncode == 1
    assert f"{home.mounts}: restored" in result.stdout.splitlines()
    assert f"{home.config}: NOT restored: its backup {backup} is missing; the file is left as it is" in result.stdout
    assert f"{home.config}: restored" not in result.stdout
    assert one_error_line(result).endswith("some files were not restored (see above); the state is kept, "
                                           "nothing else was lost")
    assert home.mounts.read_bytes() == original_mounts and home.config.read_bytes() == ours
    assert (home.state / "state.json").exists()  # still records what is unrestored
    again = home.cli("launcher", "--undo")
    assert again.returncode == 1 and f"{home.mounts}" not in again.stdout  # done once, not redone
    assert home.mounts.read_bytes() == original_mounts


def test_hand_edits_in_two_cycles_are_both_kept(make_home):
    home = make_home("existing")
    before = home.files()
    edits = []
    for cycle in range(2):
        home.ok("launcher")
        data = json.loads(home.mounts.read_text())
        data["Envs"].append({"variable": "CYCLE", "value": str(cycle)})
        home.mounts.write_text(json.dumps(data))
        edits.append(home.mounts.read_bytes())
        home.ok("launcher", "--undo")
    first, second = home.home / ".tao_mounts.json.before-undo", home.home / ".tao_mounts.json.before-undo.2"
    assert [first.read_bytes(), second.read_bytes()] == edits  # the first cycle's copy is not overwritten
    first.unlink()
    second.unlink()
    assert home.files() == before


def test_a_hand_edit_back_to_the_original_needs_no_copy(make_home):
    home = make_home("existing")
    before = home.files()
    original = home.mounts.read_bytes()
    home.ok("launcher")
    home.mounts.write_bytes(original)
    result = home.ok("launcher", "--undo")
    assert f"{home.mounts}: restored (it already held its original bytes)" in result.stdout
    assert home.files() == before


def test_a_fifo_in_place_of_the_mounts_file_is_refused_without_blocking(make_home):
    home = make_home("fresh")
    os.mkfifo(home.mounts)
    before = home.files()
    result = home.cli("launcher")  # the harness' timeout would fire if the open blocked
    assert result.returncode == 1
    assert one_error_line(result).startswith(f"tao-sparse4d-fix launcher: error: {home.mounts}: is not a regular file")
    assert home.files() == before


def test_a_corrupt_state_file_is_one_line(make_home):
    home = make_home("existing")
    home.ok("launcher")
    (home.state / "state.json").write_text("{")
    result = home.cli("launcher", "--undo")
    assert result.returncode == 1
    assert one_error_line(result).startswith(f"tao-sparse4d-fix launcher: error: {home.state}/state.json: is not valid JSON")


def test_a_second_run_says_it_waits_for_the_first(make_home):
    home = make_home("existing")
    home.ok("launcher", "--dry-run")
    home.state.mkdir()
    with open(home.state / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        process = home.popen("launcher")
        threading.Event().wait(1.0)
        assert process.poll() is None  # waiting, not writing
        assert not (home.state / "state.json").exists()
        fcntl.flock(lock, fcntl.LOCK_UN)
        assert process.wait(timeout=60) == 0
    assert "waiting for another tao-sparse4d-fix command to finish" in process.stderr.read()


def test_bundle_refuses_to_replace_a_users_own_mount(make_home):
    home = make_home("fresh")
    mine = home.root / "my-tools"
    mine.mkdir()
    home.mounts.write_text(json.dumps({"Mounts": [{"source": str(mine), "destination": "/opt/tao-sparse4d-fix"}]}))
    before = home.files()
    bundle_dir = home.root / "bundle"
    result = home.cli("bundle", str(bundle_dir), "--write-mounts")
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"tao-sparse4d-fix bundle: error: {home.mounts} already mounts {mine} at /opt/tao-sparse4d-fix, where the "
        "bundle goes, and it is not a bundle; nothing was changed. Choose another --mount-point or --site-packages, "
        "or run again with --force to replace that mount")
    assert home.files() == before and not bundle_dir.exists()  # refused before the build
    home.ok("bundle", str(bundle_dir), "--write-mounts", "--force")
    assert home.launcher_view()["mounts"]["Mounts"][0]["source"] == str(bundle_dir)
    other = home.root / "bundle-2"  # a previous bundle at the destination is replaced without asking
    assert "wrote" in home.ok("bundle", str(other), "--write-mounts").stdout
    home.ok("launcher", "--undo")
    assert home.files() == before


def test_launcher_refuses_a_stock_image_unless_a_bundle_is_mounted(make_home):
    home = make_home("existing")
    before = home.files()
    result = home.cli("launcher", "--image", STOCK)
    assert result.returncode == 1
    assert one_error_line(result).startswith(
        f"tao-sparse4d-fix launcher: error: --image {STOCK} is a stock image of nvidia-tao 6.26.3's map: it has no "
        "tao-sparse4d-fix, so TAO_SPARSE4D_FIX=1 would run stock TAO.")
    assert home.files() == before
    custom = home.ok("launcher", "--image", CUSTOM).stdout
    assert f"the fix is on only if {CUSTOM} has tao-sparse4d-fix installed" in custom
    home.ok("bundle", str(home.root / "bundle"), "--write-mounts")
    with_bundle = home.ok("launcher", "--image", STOCK).stdout
    assert "the fix comes from the bundle mounted at /usr/local/lib/python3.12/dist-packages/tao_sparse4d_fix_bundle.pth" \
        in with_bundle
    home.ok("launcher", "--undo")
    assert home.files() == before


def test_the_state_of_version_0_2_0_is_still_undone(make_home):
    """0.2.0 recorded absolute backup paths and one written hash; its undo must still bring the bytes back."""
    import hashlib
    home = make_home("existing")
    before = home.files()
    original = home.mounts.read_bytes()
    (home.state / "backup").mkdir(parents=True)
    backup = home.state / "backup" / "0-.tao_mounts.json"
    backup.write_bytes(original)
    ours = b'{"Mounts": [], "Envs": [{"variable": "TAO_SPARSE4D_FIX", "value": "1"}]}\n'
    home.mounts.write_bytes(ours)
    (home.state / "state.json").write_text(json.dumps({
        "files": {str(home.mounts): {"existed": True, "backup": str(backup), "mode": 0o600,
                                     "written_sha256": hashlib.sha256(ours).hexdigest()}},
        "created_dirs": []}))
    result = home.ok("launcher", "--undo")
    assert result.stdout.splitlines() == [f"{home.mounts}: restored"]
    assert home.files() == before
