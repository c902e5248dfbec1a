"""The numpy-free pickle reader against pickles written by real numpy 1.x and 2.x.

Each pickle is loaded in a Python that cannot import numpy (this interpreter
with -I -S) and compared with what numpy itself decodes it to (``tolist()``,
written beside it by data/make_fixtures.py). The committed files in data/
(numpy 1.26.4: protocols 2 and 4, ``numpy.core``; numpy 2.4.6: protocols 4
and 5, ``numpy._core`` and ``_frombuffer``) always run; fresh ones are written
at test time by every numpy found here, for protocols 0 to 5.
"""
import shutil
import subprocess

from inspect_helpers import DATA, box, load_without_numpy, numpy_pythons, run_json, skip, write_results

FIXTURES = DATA / "make_fixtures.py"


def test_committed_pickles_of_numpy_1_and_2():
    pickles = sorted(DATA.glob("info_numpy*_p*.pkl"))
    assert {p.name.split("_")[1] for p in pickles} == {"numpy1", "numpy2"}
    for pkl in pickles:
        expected = pkl.with_name(pkl.name + ".repr").read_text().strip()
        assert load_without_numpy(pkl) == expected, pkl.name


def test_pickles_written_now_by_every_numpy_here(tmp_path):
    pythons = numpy_pythons()
    if not pythons:
        skip("no Python with numpy here (the committed pickles still ran)")
    for label, python in pythons:
        out = tmp_path / label.replace(" ", "_")
        done = subprocess.run([python, str(FIXTURES), str(out), "0", "1", "2", "3", "4", "5"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        for pkl in done.stdout.split():
            expected = open(pkl + ".repr").read().strip()
            assert load_without_numpy(pkl) == expected, (label, pkl)
    print("numpy versions checked:", ", ".join(label for label, _ in pythons))


def test_gt_from_a_numpy_pickle(tmp_path):
    # the committed info files: 2 scenes x 3 frames holding 0/1/2 and 1/2/0 GT boxes; the centre (x, y) is
    # the first two numbers of a row: scene 0 (0, 0.25), (1.75, 2.0); scene 1 (1, 1.25), (2.75, 3.0)
    tokens = [f"scene_{s:03d}_{f:06d}" for s in range(2) for f in range(3)]
    frames = {t: [box(0.9, 0.0, 0.25, tid=1)] for t in tokens}  # on the first box of each scene's frame
    for pkl in ("info_numpy1_p4.pkl", "info_numpy2_p5.pkl"):
        _, (m,) = run_json(write_results(tmp_path / "r.json", frames), "--gt", DATA / pkl)
        # 6 GT boxes over 6 frames. The detection at (0, 0.25) matches in scene 0 frames 1 and 2 (0 m) and
        # scene 1 frames 0 and 1 ((1, 1.25) is 1.41 m away); frames with no GT give FPs: TP 4 of 6, of 6 GT.
        assert m["gt_per_frame_mean"] == 1.0, pkl
        assert abs(m["recall_2m"] - 4 / 6) < 1e-9 and abs(m["precision_2m"] - 4 / 6) < 1e-9, pkl
        assert m["id_scope"] == "scene"  # scene_name from the pickle


def test_a_folder_of_pickles_reads_like_tao(tmp_path):
    # TAO's ann_file may be a folder: every *.pkl in it, sorted, each with its "infos"
    folder = tmp_path / "gt"
    folder.mkdir()
    shutil.copy(DATA / "info_numpy2_p4.pkl", folder / "a.pkl")
    tokens = [f"scene_{s:03d}_{f:06d}" for s in range(2) for f in range(3)]
    _, (m,) = run_json(write_results(tmp_path / "r.json", {t: [] for t in tokens}), "--gt", folder)
    assert m["recall_2m"] == 0.0 and m["fp_per_frame"] == 0.0


def test_the_reader_never_imports_numpy_even_where_it_is_installed():
    python = next((p for _, p in numpy_pythons()), None)
    if python is None:
        skip("no Python with numpy here")
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from tao_sparse4d_fix.host.inspect import numpy_free\n"
            "data = numpy_free.load(open(sys.argv[2], 'rb'))\n"
            "assert type(data['infos'][1]['gt_boxes']) is list\n"
            "print('numpy' in sys.modules)\n")
    done = subprocess.run([python, "-c", code, str(DATA.parents[2]), str(DATA / "info_numpy2_p5.pkl")],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr
