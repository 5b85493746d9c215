"""Cost of near-duplicate detection per 1,000 documents, and how it grows with the archive.

Generates synthetic archives (about 500 words a document, Zipf-distributed vocabulary, shared
boilerplate paragraphs, follow-up stories that reuse a third of an earlier story, and 10%
syndicated copies with small edits), then runs what the archive does for each new document:
`signature`, `NearDuplicateIndex.query`, `NearDuplicateIndex.add`. Prints seconds per 1,000
documents at each size (flat means linear growth), precision and recall of finding the planted
copies (and that the earliest match is the original), and, at the small sizes, the same search by
brute force: every new signature compared with every earlier one, vectorised with numpy.

    .venv/bin/python tests/benchmarks/bench_neardup.py [--sizes 1000,5000,20000,50000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"

VOCABULARY = 20_000
BOILERPLATE = 30  # paragraphs that many pages of a site end with ("Notes to editors", ...)
COPY_SHARE = 0.10
FOLLOW_UP_SHARE = 0.05
SEED = 2026


@dataclass
class Doc:
    text: str
    original: int | None  # planted copy: the document it copies
    follow_up: bool


class SyntheticArchive:
    """Documents generated on demand from (seed, index), so any size is a prefix of the next."""

    def __init__(self, seed: int = SEED) -> None:
        rng = np.random.default_rng(seed)
        syllables = [
            c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")
        ]
        words = set()
        while len(words) < VOCABULARY:
            words.add("".join(rng.choice(syllables, size=rng.integers(1, 4))))
        self.vocabulary = np.array(sorted(words))
        weights = 1 / np.arange(1, VOCABULARY + 1) ** 1.07
        self.cdf = np.cumsum(weights / weights.sum())
        self.seed = seed
        self.boilerplate = [self._words(rng, 60) for _ in range(BOILERPLATE)]
        self._kinds: list[str] = []

    def _words(self, rng: np.random.Generator, n: int) -> list[str]:
        picks = np.searchsorted(self.cdf, rng.random(n))
        return self.vocabulary[np.minimum(picks, VOCABULARY - 1)].tolist()

    def _kind(self, index: int) -> str:
        while len(self._kinds) <= index:
            i = len(self._kinds)
            draw = np.random.default_rng([self.seed, i, 1]).random()
            if i < 10 or draw >= COPY_SHARE + FOLLOW_UP_SHARE:
                self._kinds.append("original")
            else:
                self._kinds.append("copy" if draw < COPY_SHARE else "follow-up")
        return self._kinds[index]

    def _original_words(self, index: int) -> list[str]:
        rng = np.random.default_rng([self.seed, index])
        words = self._words(rng, int(np.clip(rng.normal(500, 120), 200, 1000)))
        if rng.random() < 0.5:
            words += self.boilerplate[int(rng.integers(BOILERPLATE))]
        return words

    def _earlier_original(self, rng: np.random.Generator, index: int) -> int:
        while True:
            candidate = int(rng.integers(index))
            if self._kind(candidate) == "original":
                return candidate

    def doc(self, index: int) -> Doc:
        kind = self._kind(index)
        if kind == "original":
            return Doc(" ".join(self._original_words(index)), None, False)
        rng = np.random.default_rng([self.seed, index, 2])
        source = self._earlier_original(rng, index)
        words = self._original_words(source)
        if kind == "follow-up":
            # A new story that reuses a third of an earlier one: related, not a duplicate.
            start = int(rng.integers(0, len(words) // 2))
            reused = words[start : start + len(words) // 3]
            return Doc(" ".join(self._words(rng, 350) + reused), None, True)
        # A syndicated copy: a few words changed, maybe a new standfirst, a sign-off, and
        # sometimes the last paragraph cut.
        words = list(words)
        for _ in range(int(rng.integers(1, 5))):
            words[int(rng.integers(len(words)))] = self._words(rng, 1)[0]
        if rng.random() < 0.5:
            words = self._words(rng, 15) + words
        if rng.random() < 0.3:
            words = words[: int(len(words) * 0.95)]
        words += self._words(rng, 8)
        return Doc(" ".join(words), source, False)


def run(archive: SyntheticArchive, size: int, brute: bool) -> dict:
    from extract.similarity import NearDuplicateIndex, signature

    index = NearDuplicateIndex()
    signing = indexing = 0.0
    signatures = np.zeros((size, 128), dtype=np.uint32)
    truth: dict[int, int | None] = {}
    found: dict[int, int | None] = {}
    clear_copies = set()  # planted copies whose true shingle Jaccard with the original is >= 0.8
    for i in range(size):
        doc = archive.doc(i)
        truth[i] = doc.original
        if doc.original is not None:
            if jaccard(doc.text, archive.doc(doc.original).text) >= index.threshold:
                clear_copies.add(i)
        started = time.process_time()
        sig = signature(doc.text)
        signed = time.process_time()
        matches = index.query(sig)
        index.add(i, sig)
        indexing += time.process_time() - signed
        signing += signed - started
        found[i] = matches[0] if matches else None
        signatures[i] = np.frombuffer(sig, dtype="<u4", offset=1)
    result = {
        "size": size,
        "sign": signing,
        "index": indexing,
        **score(truth, found),
        "recall_clear": len({i for i in clear_copies if found[i] == truth[i]}) / len(clear_copies),
    }
    if brute:
        needed = index.threshold * 128
        started = time.process_time()
        brute_found = {}
        for i in range(size):
            equal = np.count_nonzero(signatures[:i] == signatures[i], axis=1)
            hits = np.flatnonzero(equal >= needed)
            brute_found[i] = int(hits[0]) if hits.size else None
        result["brute"] = time.process_time() - started
        result["lsh_vs_brute_recall"] = sum(
            1 for i, hit in brute_found.items() if hit is not None and found[i] == hit
        ) / max(1, sum(1 for hit in brute_found.values() if hit is not None))
    return result


def index_bytes_per_document(archive: SyntheticArchive, size: int = 5000) -> float:
    """What the index holds per document (the LSH buckets and the stored signatures)."""
    from extract.similarity import NearDuplicateIndex, signature

    sigs = [signature(archive.doc(i).text) for i in range(size)]
    tracemalloc.start()
    index = NearDuplicateIndex()
    for i, sig in enumerate(sigs):
        index.add(i, sig)
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return used / size


def jaccard(a: str, b: str) -> float:
    """The exact Jaccard similarity of two texts' word 5-shingle sets, which MinHash estimates."""

    def shingles(text: str) -> set[tuple[str, ...]]:
        words = text.lower().split()
        return {tuple(words[i : i + 5]) for i in range(len(words) - 4)}

    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y)


def score(truth: dict[int, int | None], found: dict[int, int | None]) -> dict:
    flagged = {i for i, hit in found.items() if hit is not None}
    planted = {i for i, original in truth.items() if original is not None}
    correct = {i for i in flagged & planted if found[i] == truth[i]}
    return {
        "planted": len(planted),
        "flagged": len(flagged),
        "precision": len(flagged & planted) / len(flagged) if flagged else 1.0,
        "recall": len(flagged & planted) / len(planted) if planted else 1.0,
        "earliest_is_original": len(correct) / len(flagged & planted) if flagged & planted else 1.0,
    }


def main() -> int:
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000,50000")
    parser.add_argument("--brute-up-to", type=int, default=20000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    sys.path.insert(0, str(REPO))
    archive = SyntheticArchive()
    print(
        f"{'docs':>7} {'sign s/1k':>10} {'index+query s/1k':>17} {'total s/1k':>11} "
        f"{'brute s/1k':>11} {'brute/lsh':>10} {'planted':>8} {'precision':>10} {'recall':>7} "
        f"{'earliest ok':>12} {'recall J>=0.8':>14}"
    )
    results = []
    for size in sizes:
        r = run(archive, size, brute=size <= args.brute_up_to)
        results.append(r)
        per = 1000 / size
        brute = f"{r['brute'] * per:11.3f}" if "brute" in r else f"{'-':>11}"
        ratio = f"{r['brute'] / r['index']:9.1f}x" if "brute" in r else f"{'-':>10}"
        print(
            f"{size:>7} {r['sign'] * per:10.3f} {r['index'] * per:17.3f} "
            f"{(r['sign'] + r['index']) * per:11.3f} {brute} {ratio} {r['planted']:>8} "
            f"{r['precision']:10.3f} {r['recall']:7.3f} {r['earliest_is_original']:12.3f} "
            f"{r['recall_clear']:14.3f}",
            flush=True,
        )
    first, last = results[0], results[-1]
    growth = (last["index"] / last["size"]) / (first["index"] / first["size"])
    total_growth = ((last["sign"] + last["index"]) / last["size"]) / (
        (first["sign"] + first["index"]) / first["size"]
    )
    print(
        f"\nper-document cost from {first['size']:,} to {last['size']:,} documents "
        f"({last['size'] / first['size']:.0f}x the archive): index+query x{growth:.2f}, "
        f"total x{total_growth:.2f} (1.0 = linear total cost; quadratic would be "
        f"x{last['size'] / first['size']:.0f})"
    )
    for r in results:
        if "brute" in r:
            print(
                f"{r['size']:,} docs: LSH finds {r['lsh_vs_brute_recall']:.3f} of the brute-force "
                f"matches, {r['brute'] / r['index']:.1f}x faster than brute force"
            )
    print(f"index memory: {index_bytes_per_document(archive):,.0f} bytes per document")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
