"""Errors a user can cause and fix. Each one prints as a single line that names what is wrong."""

from __future__ import annotations

from pathlib import Path


class SynthError(Exception):
    """A user-facing error: bad input, bad config, an unusable file.

    The command line prints ``str(error)`` on one line and exits with code 2, without a traceback.
    """


class ConfigError(SynthError):
    """A config key or value is wrong; the message names the field, value and what was expected."""


class AssetError(SynthError):
    """An input file (font, image, audio, text corpus) is unusable; the message names the file."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):  # so that it crosses from a worker process intact
        return (type(self), (self.path, self.problem))


class TooManyRejections(SynthError):
    """Sampling kept failing, so the dataset would be skewed or could not be built."""


class NotFound(SynthError):
    """A dataset id, prefix or name matched nothing in the catalog (or matched more than one)."""


class Deleted(NotFound):
    """The dataset asked for was deleted: the message says when, by whom and why."""


class NoCatalog(NotFound):
    """A look-up found no catalog at all under the data root (nothing built or imported there)."""


class AccessDenied(SynthError):
    """The acting role lacks a right on a dataset; the message names the dataset and the right."""
