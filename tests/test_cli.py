"""The CLI is a thin face: every command explains itself and shows an example."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from instapop.cli import app

runner = CliRunner()
COMMANDS = sorted(command.name or command.callback.__name__ for command in app.registered_commands)


def test_top_level_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(name: str) -> None:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example: instapop " + name in " ".join(result.output.split())


def test_every_command_is_documented_in_the_readme(readme_text: str) -> None:
    missing = [name for name in COMMANDS if f"instapop {name}" not in readme_text]
    assert not missing, f"README.md shows no example of: {missing}"


@pytest.fixture(scope="module")
def readme_text() -> str:
    from pathlib import Path

    return (Path(__file__).parents[1] / "README.md").read_text()
