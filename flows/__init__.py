"""Prefect flow entrypoints. Thin shells: every step calls into the ``newsetl`` library."""
