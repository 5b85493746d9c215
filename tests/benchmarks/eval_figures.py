"""Evaluate `extract.figures.find_figures` on the annotated gold set, and time it.

Run: `.venv/bin/python tests/benchmarks/eval_figures.py [--errors dev] [--no-speed]`

Prints precision, recall and F1 per split (dev: tuned on; heldout: written first, never tuned
on) for four matchings of a predicted figure to a gold one whose spans overlap: span only; value;
value and unit; value, kind and unit. Units match leniently on the counted noun (singular or
plural, a compound against its head noun: "police officer" ~ "officer").

Then throughput: the time `find_figures` takes on the text of an average news page against the
time `trafilatura.extract` takes on that page's HTML, over the pages of
../shared/benchmarks/article-extraction/html (skipped, with a message, when absent). Target:
figures add at most 20% to extraction time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from extract.figures import find_figures  # noqa: E402
from extract.numbers import singular  # noqa: E402

GOLD = ROOT / "tests" / "gold" / "figures"
PAGES = ROOT.parent / "shared" / "benchmarks" / "article-extraction" / "html"
SPLITS = ("dev", "heldout", "blind")
MATCHINGS = ("span", "value", "value+unit", "value+kind+unit")


def load_gold(split: str | None = None) -> list[dict]:
    """The gold documents of one split ("dev", "heldout") or of both."""
    splits = [split] if split else list(SPLITS)
    docs = []
    for name in splits:
        for path in sorted((GOLD / name).glob("*.json")):
            docs.append(json.loads(path.read_text(encoding="utf-8")))
    return docs


def values_match(gold: float | None, predicted: float | None) -> bool:
    if gold is None or predicted is None:
        return gold is None and predicted is None
    return math.isclose(gold, predicted, rel_tol=2e-3, abs_tol=1e-3)


def _noun(unit: str | None) -> list[str]:
    return [singular(w) for w in (unit or "").lower().replace("-", " ").split()]


def units_match(gold: str | None, predicted: str | None) -> bool:
    """Lenient: equal after singularising, or one is the other's head (last) noun."""
    a, b = _noun(gold), _noun(predicted)
    if not a or not b:
        return not a and not b
    return a == b or a[-1] == b[-1]


def _accepts(matching: str, g: dict, p: dict) -> bool:
    if matching == "span":
        return True
    ok = values_match(g["value"], p["value"])
    if matching in ("value+unit", "value+kind+unit"):
        ok = ok and units_match(g["unit"], p["unit"])
    if matching == "value+kind+unit":
        ok = ok and g["kind"] == p["kind"]
    return ok


def _overlap(a: dict, b: dict) -> int:
    return min(a["end"], b["end"]) - max(a["start"], b["start"])


def pair_up(gold: list[dict], predicted: list[dict], matching: str) -> list[tuple[dict, dict]]:
    """One-to-one pairs of overlapping spans accepted by `matching`, largest overlap first."""
    candidates = []
    for gi, g in enumerate(gold):
        for pi, p in enumerate(predicted):
            overlap = _overlap(g, p)
            if overlap > 0 and _accepts(matching, g, p):
                candidates.append((-overlap, gi, pi))
    candidates.sort()
    used_g: set[int] = set()
    used_p: set[int] = set()
    pairs = []
    for _, gi, pi in candidates:
        if gi not in used_g and pi not in used_p:
            used_g.add(gi)
            used_p.add(pi)
            pairs.append((gold[gi], predicted[pi]))
    return pairs


@dataclass
class Score:
    tp: int = 0
    predicted: int = 0
    gold: int = 0

    @property
    def precision(self) -> float:
        return self.tp / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def predict(doc: dict) -> list[dict]:
    return [
        {
            "start": f.start,
            "end": f.end,
            "text": f.text,
            "kind": f.kind,
            "value": f.value,
            "unit": f.unit,
            "denominator": f.denominator,
            "qualifier": f.qualifier,
        }
        for f in find_figures(doc["text"])
    ]


def evaluate(docs: list[dict]) -> dict[str, Score]:
    """Scores for each matching over `docs`."""
    scores = {m: Score() for m in MATCHINGS}
    for doc in docs:
        predicted = predict(doc)
        for matching, score in scores.items():
            score.tp += len(pair_up(doc["figures"], predicted, matching))
            score.predicted += len(predicted)
            score.gold += len(doc["figures"])
    return scores


def print_errors(docs: list[dict]) -> None:
    """Every gold figure missed and every prediction wrong under value+kind+unit."""
    for doc in docs:
        predicted = predict(doc)
        pairs = pair_up(doc["figures"], predicted, "value+kind+unit")
        good_g = {id(g) for g, _ in pairs}
        good_p = {id(p) for _, p in pairs}
        spans = {id(g): p for g, p in pair_up(doc["figures"], predicted, "span")}
        for g in doc["figures"]:
            if id(g) not in good_g:
                p = spans.get(id(g))
                got = f"{p['text']!r} {p['kind']} {p['value']} {p['unit']}" if p else "nothing"
                print(
                    f"{doc['id']}: gold {g['text']!r} {g['kind']} {g['value']} {g['unit']} <- {got}"
                )
        paired_p = {id(p) for p in spans.values()}
        for p in predicted:
            if id(p) not in good_p and id(p) not in paired_p:
                print(f"{doc['id']}: spurious {p['text']!r} {p['kind']} {p['value']} {p['unit']}")


def measure_throughput(limit: int | None = None) -> tuple[float, float, int] | None:
    """(seconds in trafilatura.extract, seconds in find_figures, pages), or None without pages."""
    if not PAGES.is_dir():
        return None
    import trafilatura

    paths = sorted(PAGES.glob("*.html.gz"))[:limit]
    if not paths:
        return None
    extract_time = figures_time = 0.0
    for path in paths:
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        started = time.perf_counter()
        text = trafilatura.extract(html) or ""
        extract_time += time.perf_counter() - started
        started = time.perf_counter()
        find_figures(text)
        figures_time += time.perf_counter() - started
    return extract_time, figures_time, len(paths)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", metavar="SPLIT", help="list the errors on one split")
    parser.add_argument("--no-speed", action="store_true", help="skip the throughput measurement")
    args = parser.parse_args()

    for split in (*SPLITS, None):
        docs = load_gold(split)
        mentions = sum(len(d["figures"]) for d in docs)
        print(f"\n{split or 'all'}: {len(docs)} documents, {mentions} gold figures")
        for matching, score in evaluate(docs).items():
            print(
                f"  {matching:16} P {score.precision:.3f}  R {score.recall:.3f}  F1 {score.f1:.3f}"
                f"  (tp {score.tp}, predicted {score.predicted}, gold {score.gold})"
            )
    if args.errors:
        print(f"\nerrors on {args.errors}:")
        print_errors(load_gold(args.errors))

    if not args.no_speed:
        measured = measure_throughput()
        if measured is None:
            print(f"\nthroughput: skipped ({PAGES} not found)")
        else:
            extract_time, figures_time, pages = measured
            print(
                f"\nthroughput over {pages} news pages: trafilatura.extract "
                f"{extract_time / pages * 1000:.1f} ms/page, find_figures "
                f"{figures_time / pages * 1000:.2f} ms/page, ratio {figures_time / extract_time:.3f}"
                " (target <= 0.20)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
