"""Every path, link, section and ``tao-sparse4d-fix`` command the README and the docs pages name exists.

The lists are read from the pages themselves, so a page that names a command or a
file that is not there (yet) fails here, naming the page and what is missing.
Commands run with ``--help`` through the installed console script.
"""
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.once  # the plugin's own logic: runs on one TAO release (tests/unit/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])
FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
# repository paths as the pages write them: a top folder of this repository, then a path
REPO_PATH = re.compile(r"(?<![\w/.~-])((?:tao_sparse4d_fix|harness|tests|bench|docs|\.ci)/[A-Za-z0-9_./-]*[A-Za-z0-9_/-])")
ROOT_FILES = re.compile(r"(?<![\w/.-])(demo\.sh|entrypoint\.sh|Dockerfile|setup\.py|setup\.cfg|MANIFEST\.in|LICENSE)(?![\w.-])")
# a command as a shell line starts it: at the start of a code line or span, after a prompt, a
# separator or "or:" (a message that merely mentions the program is not a command)
COMMAND = re.compile(r"(?:^\s*|[$;&|(]\s*|\bor:\s*)(?:tao-sparse4d-fix|python3? -m tao_sparse4d_fix)[ \t]+([a-z][a-z_-]*)\b(?![:.(/-])",
                     re.M)
CODE_SPAN = re.compile(r"`([^`]+)`")
DOTTED = re.compile(r"\btao_sparse4d_fix(?:\.[A-Za-z_]\w*)+")
FILE_SUFFIXES = (".pth", ".json", ".py", ".md")


def page_id(page):
    return str(page.relative_to(ROOT))


def split_code(text):
    """(prose lines, code text): code is fenced blocks plus inline code spans."""
    prose, code, fenced = [], [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        (code if fenced else prose).append(line)
    spans = [span for line in prose for span in CODE_SPAN.findall(line)]
    return prose, "\n".join(code + spans)


def slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]{2,}|`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page):
    seen = {}
    prose, _ = split_code(page.read_text())
    for line in prose:
        match = re.match(r"^#{1,6}\s+(.*)$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            yield base if count == 0 else f"{base}-{count}"


def links():
    for page in PAGES:
        prose, _ = split_code(page.read_text())
        for line in prose:
            for target in LINK.findall(line):
                if not re.match(r"^[a-z]+:", target):
                    yield page, target


def repo_paths():
    for page in PAGES:
        text = page.read_text()
        found = set(REPO_PATH.findall(text)) | set(ROOT_FILES.findall(text))
        for path in sorted(found):
            yield page, path.rstrip(".")


def commands():
    """[(command, its options the pages show, the first page naming it)]."""
    found, options = {}, {}
    for page in PAGES:
        _, code = split_code(page.read_text())
        for line in code.splitlines():
            for match in COMMAND.finditer(line):
                name = match.group(1)
                found.setdefault(name, page_id(page))
                rest = re.split(r"\s#|[|&;`]", line[match.end():])[0]  # up to a comment or the next command
                options.setdefault(name, set()).update(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest))
    return [(name, sorted(options[name]), page) for name, page in sorted(found.items())]


@pytest.mark.parametrize("page, target", list(links()), ids=lambda v: page_id(v) if isinstance(v, Path) else v)
def test_every_link_leads_somewhere(page, target):
    path, _, anchor = target.partition("#")
    destination = (page.parent / path).resolve() if path else page
    assert destination.exists(), f"{page_id(page)} links to {target}, but {path} does not exist"
    if anchor and destination.suffix == ".md":
        known = set(anchors(destination))
        assert anchor in known, f"{page_id(page)} links to {target}: no such section in {path or page_id(page)}"


@pytest.mark.parametrize("page, path", list(repo_paths()), ids=lambda v: page_id(v) if isinstance(v, Path) else v)
def test_every_repository_path_exists(page, path):
    assert (ROOT / path).exists(), f"{page_id(page)} names {path}, which is not in the repository"


def dotted_names():
    for page in PAGES:
        for name in sorted(set(DOTTED.findall(page.read_text()))):
            if not name.endswith(FILE_SUFFIXES):
                yield page, name


def resolves(name):
    """Import the longest module prefix of ``name``, then walk the rest as attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            target = getattr(target, part, None)
        return target is not None
    return False


@pytest.mark.parametrize("page, name", list(dotted_names()), ids=lambda v: page_id(v) if isinstance(v, Path) else v)
def test_every_dotted_name_of_the_plugin_exists(page, name):
    assert resolves(name), f"{page_id(page)} names {name}, which neither imports nor is an attribute"


def test_the_pages_name_the_commands_the_cli_has():
    """The lists read from the pages are not empty: the parser found the commands they show."""
    names = {name for name, _, _ in commands()}
    assert {"doctor", "launcher", "bundle", "sdk", "inspect"} <= names, names


@pytest.mark.parametrize("name, options, page", commands(), ids=[name for name, _, _ in commands()])
def test_every_command_named_runs_with_help_and_takes_the_options_shown(name, options, page):
    script = Path(sys.executable).parent / "tao-sparse4d-fix"
    assert script.exists(), f"the tao-sparse4d-fix console script is not installed beside {sys.executable}"
    env = {k: v for k, v in os.environ.items() if k != "TAO_SPARSE4D_FIX"}
    result = subprocess.run([str(script), name, "--help"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, (
        f"{page} names `tao-sparse4d-fix {name}`, but `tao-sparse4d-fix {name} --help` exited "
        f"{result.returncode}: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.stdout}"
    )
    assert result.stdout.startswith(f"usage: tao-sparse4d-fix {name}"), result.stdout
    taken = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", result.stdout))
    assert not set(options) - taken, f"{page} shows `tao-sparse4d-fix {name}` with {sorted(set(options) - taken)}, which it does not take"
