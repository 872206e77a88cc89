"""The raw archive as a source: replay rejected inputs, reprocess with a newer extractor."""
