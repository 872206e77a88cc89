"""Input sources: each yields raw items for the extract stage (files now, feeds too)."""
