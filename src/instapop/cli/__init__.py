"""The ``instapop`` command line: thin faces over the library.

Each stage command runs its stage through the stage table (:mod:`instapop.stages`), as
``instapop run`` and ``instapop batch`` do; a command only parses options and prints.
Library errors (``InstapopError``) become a one-line message and a non-zero exit code.
"""

from instapop.cli import rank, stages, study  # noqa: F401  (each module adds its commands to the app)
from instapop.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """The ``instapop`` console script."""
    app()
