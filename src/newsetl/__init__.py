"""newsetl: turn news (files, RSS/Atom feeds) into clean, queryable DuckDB tables."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("newsetl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
