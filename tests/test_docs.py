"""The documentation: README.md is a short front page, docs/ holds the rest, and every relative link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOC_FILES = sorted([README, *(REPO / "docs").glob("*.md"), *(REPO / "bundles").glob("*/docs/README.md")])
README_MAX_LINES = 220

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code spans (links inside code are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _links(path: Path) -> list[str]:
    return LINK.findall(_prose(path.read_text()))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = _slug(match.group(1))
            n = 0
            while (candidate := slug if n == 0 else f"{slug}-{n}") in anchors:
                n += 1
            anchors.add(candidate)
    return anchors


def test_slug_matches_github():
    assert _slug("Layer benchmark on a GPU (NVIDIA H200)") == "layer-benchmark-on-a-gpu-nvidia-h200"
    assert (
        _slug("Your own volumes: the `sre_classification` bundle") == "your-own-volumes-the-sre_classification-bundle"
    )
    assert _slug("Networks that keep orientation: group convolutions on the voxel grid") == (
        "networks-that-keep-orientation-group-convolutions-on-the-voxel-grid"
    )


def test_links_are_found():
    """The link check below is not vacuous: the README and the docs index link to the pages."""
    assert len(_links(README)) >= 10
    index = {link.split("#")[0] for link in _links(REPO / "docs" / "index.md")}
    pages = {p.name for p in (REPO / "docs").glob("*.md")} - {"index.md"}
    assert pages <= index, f"docs/index.md does not list {sorted(pages - index)}"


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path: Path):
    broken = []
    for link in _links(path):
        if SCHEME.match(link):
            continue
        target, _, anchor = link.partition("#")
        resolved = (path.parent / target).resolve() if target else path
        if not resolved.exists():
            broken.append(f"{link}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{link}: no heading #{anchor} in {resolved.relative_to(REPO)}")
    assert not broken, f"{path.relative_to(REPO)}: " + "; ".join(broken)


def test_readme_is_a_front_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move reference text into docs/"


def _two_commands() -> list[str]:
    text = README.read_text()
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"^```bash\n(.*?)^```", section, re.M | re.S)]


def test_readme_keeps_the_two_commands():
    """One command installs and trains + evaluates the default bundle; one installs and runs the tests (CI's)."""
    train, tests = _two_commands()
    install = "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
    for command in (train, tests):
        assert "\n" not in command and command.startswith(install)
    assert "bundles/sre_resnet3d_tissue/configs/train.json" in train
    assert train.endswith("--ckpt_path bundles/sre_resnet3d_tissue/runs/train/models/model.pt")
    assert 'pip install -e ".[test]"' in tests and tests.endswith("&& python -m pytest -q")
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == tests.rsplit(" && ", 1)[1], "CI must run the README's test command"
    assert any("torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in line for line in ci)
