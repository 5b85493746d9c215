"""Article extraction quality: `extract_document` against bare trafilatura on real news pages.

Runs over ../shared/benchmarks/article-extraction/ (181 pages with hand-checked article text)
and scores with that benchmark's own metric: word 4-gram shingles per page, precision and
recall averaged over pages, F1 of the two averages. The baselines are measured in the same run:
`trafilatura.extract` with its defaults, and with comments off.

    .venv/bin/python tests/benchmarks/bench_extraction.py [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "article-extraction"
_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(
        tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n]
    )


def tp_fp_fn(true: str, pred: str) -> tuple[float, float, float]:
    """The benchmark's per-page counts, normalised so every page weighs the same."""
    gold, guess = shingles(true), shingles(pred)
    tp = sum((gold & guess).values())
    fp = sum((guess - gold).values())
    fn = sum((gold - guess).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def score(truth: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    counts = [tp_fp_fn(truth[key], predicted.get(key) or "") for key in truth]
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    return precision, recall, 2 * precision * recall / (precision + recall)


def run(pages: dict[str, tuple[bytes, str]], extractor: Callable[[bytes, str], str]):
    """Predictions, wall-clock docs/s and CPU ms per doc (steadier on a shared machine)."""
    for body, url in list(pages.values())[:3]:
        extractor(body, url)  # first-use set-up (stop lists, regexes) is not per-page cost
    started, cpu = time.perf_counter(), time.process_time()
    predicted = {key: extractor(body, url) for key, (body, url) in pages.items()}
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return predicted, len(pages) / wall, 1000 * cpu / len(pages)


def stage_costs(pages: dict[str, tuple[bytes, str]]) -> dict[str, float]:
    """Where extract_document's time goes: the HTML reader, then figures, then entities."""
    from extract import ExtractionError
    from extract.entities import find_mentions
    from extract.figures import find_figures
    from extract.html import extract_html

    docs, cpu = [], time.process_time()
    for body, url in pages.values():
        try:
            docs.append(extract_html(body, url, "text/html; charset=utf-8"))
        except ExtractionError:
            pass
    costs = {"html": time.process_time() - cpu}
    cpu = time.process_time()
    for doc in docs:
        find_figures(doc.text, doc.page_starts)
    costs["figures"], cpu = time.process_time() - cpu, time.process_time()
    for doc in docs:
        find_mentions(doc.text)
    costs["entities"] = time.process_time() - cpu
    return {name: 1000 * seconds / len(pages) for name, seconds in costs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    args = parser.parse_args()
    if not (DATA / "ground-truth.json").exists():
        print(f"skipped: benchmark data not found at {DATA}")
        return 0

    import trafilatura

    from extract import ExtractionError, extract_document

    ground = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(ground)[: args.limit]
    truth = {key: ground[key]["articleBody"] for key in keys}
    pages = {
        key: (gzip.decompress((DATA / "html" / f"{key}.html.gz").read_bytes()), ground[key]["url"])
        for key in keys
    }

    def ours(body: bytes, url: str) -> str:
        try:
            return extract_document(body, url, "text/html; charset=utf-8").text
        except ExtractionError:
            return ""

    def bare(**options: object) -> Callable[[bytes, str], str]:
        return lambda body, url: trafilatura.extract(body.decode("utf-8"), **options) or ""

    rows = [
        ("trafilatura.extract defaults", *run(pages, bare())),
        ("trafilatura.extract comments off", *run(pages, bare(include_comments=False))),
        ("extract_document", *run(pages, ours)),
    ]
    base_f1 = score(truth, rows[0][1])[2]
    print(f"{len(pages)} pages from {DATA}")
    base_cpu = rows[0][3]
    print(
        f"{'extractor':34} {'precision':>9} {'recall':>7} {'F1':>7} {'F1 ratio':>8}"
        f" {'docs/s':>7} {'CPU ms/doc':>10} {'CPU ratio':>9}"
    )
    for name, predicted, rate, cpu_ms in rows:
        precision, recall, f1 = score(truth, predicted)
        print(
            f"{name:34} {precision:9.4f} {recall:7.4f} {f1:7.4f} {f1 / base_f1:8.3f}"
            f" {rate:7.1f} {cpu_ms:10.1f} {cpu_ms / base_cpu:9.2f}"
        )
    print("extract_document includes metadata, links, tables, images, figures and entities.")
    print(
        "CPU ms/doc by stage: " + ", ".join(f"{k} {v:.1f}" for k, v in stage_costs(pages).items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
