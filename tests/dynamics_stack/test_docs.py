"""The repository stands on its own: no file refers to a document outside it, every relative doc link resolves."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Team documents that live outside the repository: a tracked file must not point at them.
OUTSIDE = re.compile(r"anchors/[A-Za-z_]+\.md|\b(DESIGN|RELIABILITY|CONVENTIONS)\.md|\.\./shared|shared/(ros|anchors)/")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")  # markdown [text](target#anchor)


def _tracked() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def test_no_tracked_file_refers_to_a_document_outside_the_repository():
    bad = []
    for path in _tracked():
        if path.suffix in (".onnx", ".safetensors", ".png", ".gif") or path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        bad += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]
    assert not bad, bad


def test_relative_links_in_the_docs_resolve():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted(ROOT.glob("*/README.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) < 300  # a newcomer's ten minutes; the rest is docs/
