"""Errors the library raises on purpose; the CLI turns them into one-line messages."""


class InstapopError(Exception):
    """A problem with the user's input or files, described for a person to act on."""


class BadInputError(InstapopError):
    """One item (file, row, media) could not be used; the message names it and the reason."""
