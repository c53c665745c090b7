"""The docs cover the CLI: every command of the Typer app is named in some page of docs/.

Fast and without a build: the strict MkDocs build (broken links, pages missing from the
nav) runs as its own step of `make test`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from instapop.cli import app

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
COMMANDS = sorted(
    command.name or command.callback.__name__.replace("_", "-") for command in app.registered_commands
)


@pytest.fixture(scope="module")
def docs_text() -> str:
    return "\n".join(page.read_text(encoding="utf-8") for page in sorted(DOCS.rglob("*.md")))


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_named_in_the_docs(name: str, docs_text: str) -> None:
    assert re.search(rf"\binstapop {re.escape(name)}\b", docs_text), (
        f"no page of docs/ mentions `instapop {name}`: document it on its stage's page"
    )


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md"))
    missing = [page for page in pages if page not in nav]
    assert not missing, f"docs pages missing from the nav of mkdocs.yml: {missing}"


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move details into docs/"
    head = "\n".join(lines[:10])
    assert "make demo" in head and "make test" in head


def test_readme_links_point_to_files() -> None:
    """The strict MkDocs build checks the links between pages; this checks the README's."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [target.split("#")[0] for target in targets if "://" not in target]
    broken = [target for target in local if target and not (ROOT / target).exists()]
    assert local and not broken, f"README.md links to missing files: {broken}"
