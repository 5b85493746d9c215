"""Near-duplicate documents: the same agency story on ten regional sites, a press release
republished on GOV.UK.

Each text gets a MinHash signature over its word 5-shingles, stored as compact bytes;
`NearDuplicateIndex` finds, through locality-sensitive hashing, the earlier documents whose
estimated Jaccard similarity reaches a threshold, without comparing every pair.

Both are a few lines of numpy. datasketch did them in earlier releases, but it imports SciPy for
an LSH parameter optimiser Oversight never called, and that import (0.46 s) cost as much as
extracting a hundred pages on every run. The permutations are datasketch 2's "affine32" scheme
with seed 1, so signatures stored by earlier releases are byte for byte the ones computed now.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from functools import lru_cache

import numpy as np

NUM_PERM = 128
SHINGLE_WORDS = 5
# Shorter texts (a caption, a "page not found", a two-line notice) share too few shingles for an
# estimate to mean anything, and are the same on every page of a site: they are never matched.
MIN_WORDS = 50
# LSH bands are chosen so that a pair at the threshold becomes a candidate with at least this
# probability; every candidate is then checked against the threshold, so extra candidates cost
# time, never precision.
CANDIDATE_RECALL = 0.98

# Fixed because signatures are stored: the permutations' random seed, and MurmurHash3's 32-bit
# finaliser (shifts and multipliers), which spreads the shingle hashes before they are permuted.
_SEED = 1
_FMIX32 = tuple(np.uint32(c) for c in (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16))
# A version byte, so a signature made with other settings is refused rather than compared.
# 1: SHA-1 of each shingle's text. 2: shingles hashed from CRC-32s of their words (below).
_FORMAT = b"\x02"
_LENGTH = len(_FORMAT) + 4 * NUM_PERM
_WORD = re.compile(r"\w+")
# Odd 64-bit multipliers, one per word position of a shingle.
_POSITION_KEYS = np.array(
    [
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0xD6E8FEB86659FD93,
        0xFF51AFD7ED558CCD,
    ],
    dtype=np.uint64,
)[:SHINGLE_WORDS]


# Only the opening words are signed: syndicated copies share their openings, and a 6,000-word
# report would otherwise cost 15 ms of hashing for no better answer.
MAX_WORDS = 2000


def signature(text: str) -> bytes:
    """A 513-byte MinHash signature of `text`; empty bytes for texts under `MIN_WORDS` words.

    Case, punctuation and spacing are ignored, so a re-formatted copy has the same signature.
    """
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())[:MAX_WORDS]
    if len(words) < MIN_WORDS:
        return b""
    mixed = _fmix32(_shingle_hashes(words))
    multipliers, offsets = _permutations()
    # Each of the NUM_PERM permutations h -> a*h + b (mod 2**32) of every shingle; keep the least.
    minima = (mixed[:, np.newaxis] * multipliers + offsets).min(axis=0)
    return _FORMAT + minima.astype("<u4").tobytes()


def _fmix32(values: np.ndarray) -> np.ndarray:
    shift1, multiply1, shift2, multiply2, shift3 = _FMIX32
    values = values ^ (values >> shift1)
    values = values * multiply1
    values = values ^ (values >> shift2)
    values = values * multiply2
    return values ^ (values >> shift3)


def _shingle_hashes(words: list[str]) -> np.ndarray:
    """A 32-bit hash of every run of `SHINGLE_WORDS` words, each run once.

    Hashing each shingle's text (SHA-1 of 640 strings a page) cost more than extracting the
    page's figures. Here each distinct word is hashed once (CRC-32: deterministic in every
    process, unlike Python's `hash`), and a shingle's hash is its words' hashes weighted by
    position and summed, modulo 2**64, all in numpy; `_fmix32` mixes the result further
    before permuting, so the sum need not avalanche by itself.
    """
    table = {word: zlib.crc32(word.encode("utf-8")) for word in set(words)}
    codes = np.fromiter((table[word] for word in words), dtype=np.uint64, count=len(words))
    count = len(words) - SHINGLE_WORDS + 1
    mixed = np.zeros(count, dtype=np.uint64)
    for offset, key in enumerate(_POSITION_KEYS):
        mixed += codes[offset : offset + count] * key
    return np.unique((mixed >> np.uint64(32)).astype(np.uint32))


def similarity(sig_a: bytes, sig_b: bytes) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets, from 0.0 to 1.0.

    0.0 when either text was too short to have a signature.
    """
    a, b = _hashvalues(sig_a), _hashvalues(sig_b)
    if a is None or b is None:
        return 0.0
    return float(np.count_nonzero(a == b)) / NUM_PERM


class NearDuplicateIndex:
    """Signatures of an archive's documents, for finding the copies of a new one.

    Add documents oldest first: `query` lists matches in the order they were added, so the first
    is the earliest copy, the one others are `duplicate_of`.
    """

    def __init__(self, threshold: float = 0.8) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], not {threshold}")
        self.threshold = threshold
        bands, self._rows = _band_params(threshold)
        # One hash table per band: documents whose signatures agree on all of a band's rows
        # share a bucket, and a pair sharing any bucket is a candidate.
        self._buckets: list[dict[bytes, set[int]]] = [{} for _ in range(bands)]
        self._values: dict[int, np.ndarray] = {}
        self._order: dict[int, int] = {}
        self._added = 0

    def add(self, doc_id: int, sig: bytes) -> None:
        """Index a document; a document added again is re-indexed with its new signature."""
        values = _hashvalues(sig)
        if doc_id in self._values:
            self.remove(doc_id)
        if values is None:
            return
        for bucket, key in zip(self._buckets, self._band_keys(values), strict=True):
            bucket.setdefault(key, set()).add(doc_id)
        self._values[doc_id] = values
        self._order[doc_id] = self._added
        self._added += 1

    def remove(self, doc_id: int) -> None:
        """Forget a document (deleted, or about to be re-added with a new text)."""
        values = self._values.pop(doc_id, None)
        if values is None:
            return
        for bucket, key in zip(self._buckets, self._band_keys(values), strict=True):
            members = bucket[key]
            members.discard(doc_id)
            if not members:
                del bucket[key]
        del self._order[doc_id]

    def query(self, sig: bytes) -> list[int]:
        """Indexed documents whose estimated similarity to `sig` is at least the threshold.

        Includes the document itself if it was added. Empty for a text too short to match.
        """
        values = _hashvalues(sig)
        if values is None:
            return []
        candidates: set[int] = set()
        for bucket, key in zip(self._buckets, self._band_keys(values), strict=True):
            candidates.update(bucket.get(key, ()))
        needed = self.threshold * NUM_PERM - 1e-9
        matches = [
            doc_id
            for doc_id in candidates
            if np.count_nonzero(self._values[doc_id] == values) >= needed
        ]
        return sorted(matches, key=self._order.__getitem__)

    def _band_keys(self, values: np.ndarray) -> list[bytes]:
        rows = self._rows
        data = values.tobytes()
        width = rows * values.itemsize
        return [data[i * width : (i + 1) * width] for i in range(len(self._buckets))]

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._values


def _hashvalues(sig: bytes) -> np.ndarray | None:
    if not sig:
        return None
    if len(sig) != _LENGTH or sig[:1] != _FORMAT:
        raise ValueError(
            f"not a signature made by extract.similarity.signature ({len(sig)} bytes): "
            "signatures made with other settings must be recomputed"
        )
    return np.frombuffer(sig, dtype="<u4", offset=len(_FORMAT)).astype(np.uint32)


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """NUM_PERM random affine permutations of 32-bit values: odd multipliers and any offsets.

    An odd multiplier makes h -> a*h + b a bijection modulo 2**32. The draws are datasketch's
    (seed 1, multipliers then offsets), so stored signatures stay comparable.
    """
    generator = np.random.RandomState(_SEED)
    multipliers = generator.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + 1
    offsets = generator.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return multipliers.astype(np.uint32), offsets


@lru_cache(maxsize=8)
def _band_params(threshold: float) -> tuple[int, int]:
    """The (bands, rows) with the fewest false candidates that still catch a pair at the
    threshold with probability `CANDIDATE_RECALL` (the usual optimum, which weighs false
    positives and false negatives alike, catches 40% at 0.8).
    """
    for rows in range(NUM_PERM, 0, -1):
        bands = NUM_PERM // rows
        if 1 - (1 - threshold**rows) ** bands >= CANDIDATE_RECALL:
            return bands, rows
    return NUM_PERM, 1
