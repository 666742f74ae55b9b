"""The errors users see. Each names the field at fault and what is allowed."""

from __future__ import annotations


class PlasticityBenchError(Exception):
    """Base class; the CLI prints these without a traceback and exits with status 2."""


class ConfigError(PlasticityBenchError, ValueError):
    """Bad input: unknown key, wrong type, impossible value."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class DataError(PlasticityBenchError, FileNotFoundError):
    """A data set that is missing and cannot be fetched; says where to put it."""
