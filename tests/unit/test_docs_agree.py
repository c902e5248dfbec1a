"""The release table in code (``runtime/versions.py``) is the one home of supported releases:
the README's table, the status table the docs show, the patches and the test matrix agree with it."""
import re
from pathlib import Path

import pytest

from harness import testenv
from tao_sparse4d_fix._version import __version__
from tao_sparse4d_fix.runtime import run_log, status, versions
from tao_sparse4d_fix.runtime.criterion_state import CriterionState
from tao_sparse4d_fix.runtime.patches import ALL, schema_field
from tao_sparse4d_fix.runtime.patches._base import MethodPatch, Patch

pytestmark = pytest.mark.once  # the plugin's own logic: runs on one TAO release (tests/unit/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
RELEASE_TABLE = re.compile(r"<!-- release table:[^>]*-->\n(.*?)\n<!-- end of release table -->", re.S)


def test_readme_release_table_is_the_one_in_code():
    tables = RELEASE_TABLE.findall((ROOT / "README.md").read_text())
    assert tables == [versions.markdown_table()]


def test_no_other_page_keeps_its_own_release_table():
    for page in (ROOT / "docs").glob("*.md"):
        assert "| nvidia-tao-pytorch |" not in page.read_text(), page


def test_every_release_the_tests_can_run_is_in_the_table_in_order():
    assert [release.tao for release in versions.RELEASES] == testenv.ALL_TAO


def test_every_patch_implements_the_contract_and_knows_every_release():
    every = tuple(release.tao for release in versions.RELEASES)
    for patch in ALL:
        assert isinstance(patch, Patch), patch
        assert patch.known_releases() == every, patch.target()
        assert patch.role == (status.SIDE if patch.component else status.CORE)
    assert schema_field.PATCH.modules == (versions.SCHEMA_IN_CORE, versions.SCHEMA_IN_PYTORCH)


def documented_status_table():
    text = (ROOT / "docs" / "how-it-works.md").read_text()
    block = text[text.index("## What a run prints"):]
    block = block[block.index("```\n") + 4:]
    return block[:block.index("\n```")].splitlines()


def why_for(patch, tao):
    """The status row's reason for ``patch`` on the stock code of release ``tao``, from the code."""
    if isinstance(patch, MethodPatch):
        found = versions.release(tao).code.fingerprints[patch.qualname]
        return patch.recognise_known(found).detail
    return f"stock schema of TAO {patch.stock_fields[versions.release(tao).code.schema_fields[patch.qualname]]}"


def test_the_documented_status_table_is_what_the_code_prints_for_6_25_11(monkeypatch):
    lines = documented_status_table()
    assert lines[0] == f"tao-sparse4d-fix: {__version__} on nvidia-tao-pytorch 6.25.11, background_supervision corrected (from spec), node 0 of 1"
    monkeypatch.setattr(versions, "tao_version", lambda: "6.25.11")
    rows = [status.PatchStatus(order, patch.target(), patch.title, patch.role, True, why_for(patch, "6.25.11"))
            for order, patch in enumerate(ALL)]
    assert lines[1:] == run_log.render(rows, CriterionState("corrected", "spec")).splitlines()


def test_doctor_line_names_each_release_from_the_table():
    assert versions.support_line("7.3.0") == ("nvidia-tao-pytorch 7.3.0 is a known release: its FocalLoss supervises C, "
                                              "drops negative labels; schema in nvidia_tao_pytorch.config.sparse4d.model")
    unknown = versions.support_line("7.4.0")
    assert unknown.startswith("nvidia-tao-pytorch 7.4.0 is not in the plugin's release table (6.25.7.0.2, ")
    assert "recognised by its code, or the run is refused" in unknown
    assert "is a known release" in versions.support_line()  # every TAO the unit tests run on is in the table
