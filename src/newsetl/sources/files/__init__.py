"""Files and directories: HTML in any charset, gzipped HTML, plain-text articles."""

from newsetl.sources.files.source import FILES_FLOW, FileSource, ingest_files

__all__ = ["FILES_FLOW", "FileSource", "ingest_files"]
