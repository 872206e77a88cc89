"""Extraction quality against human ground truth, with the public article-extraction
benchmark's metric: precision/recall over 4-word shingles of ``\\w+`` tokens, each page's
counts normalised to sum 1, precision and recall averaged over pages, F1 of the means.

Loaders read the two public ground-truth formats found in ``../shared/corpus``:
scrapinghub's article-extraction-benchmark and fundus' parser test data.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_TOKEN = re.compile(r"\w+")


def _shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def page_scores(truth: str, predicted: str) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one page."""
    t, p = _shingles(truth), _shingles(predicted)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    if total:
        return tp / total, fp / total, fn / total
    return 0.0, 0.0, 0.0


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall: float
    pages: int

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(pairs: list[tuple[str, str]]) -> Score:
    """Benchmark score over (truth, predicted) text pairs."""
    per_page = [page_scores(t, p) for t, p in pairs]
    precisions = [_precision(*s) for s in per_page if s[0] + s[1] > 0]
    recalls = [_recall(*s) for s in per_page if s[0] + s[2] > 0]
    return Score(
        precision=statistics.mean(precisions) if precisions else 0.0,
        recall=statistics.mean(recalls) if recalls else 0.0,
        pages=len(pairs),
    )


@dataclass(frozen=True, slots=True)
class GroundTruthPage:
    dataset: str
    page_id: str
    path: Path
    url: str | None
    truth: str

    def html_bytes(self) -> bytes:
        data = self.path.read_bytes()
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def article_extraction_benchmark(root: Path) -> Iterator[GroundTruthPage]:
    """Pages of scrapinghub/article-extraction-benchmark: ground-truth.json + html/<id>.html.gz."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    for page_id, entry in sorted(truth.items()):
        path = root / "html" / f"{page_id}.html.gz"
        if path.exists():
            yield GroundTruthPage(
                "article-extraction-benchmark",
                page_id,
                path,
                entry.get("url"),
                entry.get("articleBody", ""),
            )


def fundus_text(entry: dict[str, object]) -> str:
    """Plain text of a fundus expectation: summary, then each section's headlines and paragraphs."""
    body = entry.get("body") or {}
    assert isinstance(body, dict)
    parts: list[str] = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        parts.extend(section.get("headline") or [])
        parts.extend(section.get("paragraphs") or [])
    return "\n\n".join(parts)


def fundus(root: Path) -> Iterator[GroundTruthPage]:
    """Pages of fundus' parser test data, mapped to expected output by html-to-version.tsv."""
    index = root / "html-to-version.tsv"
    with index.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    cache: dict[str, dict[str, dict[str, object]]] = {}
    for row in rows:
        expected = row["expected_json"]
        if expected not in cache:
            cache[expected] = json.loads((root / expected).read_text(encoding="utf-8"))
        entry = cache[expected].get(row["version_key"])
        path = root / row["html_file"]
        if entry is None or not path.exists():
            continue
        yield GroundTruthPage("fundus", row["html_file"], path, row.get("url"), fundus_text(entry))


def evaluate(pages: list[GroundTruthPage], extractor: Callable[[GroundTruthPage], str]) -> Score:
    return score([(p.truth, extractor(p) or "") for p in pages])
