"""`make lint`: what it checks, so a tree that passes it is one CI and reviewers accept."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

DOC = """# Publishing

```python
ds = make_datasette("runs/archive.db", public=False)   # a Datasette, database "archive"
publish("runs/archive.db", "site/")                    # -> Path("site/archive.db")
```
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_lint_checks_that_the_python_is_formatted(tmp_path):
    # A dry run (-n) only prints the recipe; the venv named does not exist.
    recipe = subprocess.run(
        ["make", "-n", "lint", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{tmp_path / 'venv'}/bin/ruff format --check " in recipe


def test_ruff_format_checks_python_but_leaves_markdown_code_samples_as_written(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "publishing.md").write_text(DOC)
    (tmp_path / "ok.py").write_text('x = {"a": 1}\n')

    def check() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )

    assert check().returncode == 0, check().stdout
    (tmp_path / "ok.py").write_text("x = { 'a':1 }\n")
    unformatted = check()
    assert unformatted.returncode == 1 and "ok.py" in unformatted.stdout + unformatted.stderr
