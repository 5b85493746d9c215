"""Near-duplicate documents: the same agency story on ten regional sites, a press release
republished on GOV.UK.

Each text gets a MinHash signature over its word 5-shingles (datasketch), stored as compact bytes;
`NearDuplicateIndex` finds, through locality-sensitive hashing, the earlier documents whose
estimated Jaccard similarity reaches a threshold, without comparing every pair.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from functools import lru_cache

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

NUM_PERM = 128
SHINGLE_WORDS = 5
# Shorter texts (a caption, a "page not found", a two-line notice) share too few shingles for an
# estimate to mean anything, and are the same on every page of a site: they are never matched.
MIN_WORDS = 50
# LSH bands are chosen so that a pair at the threshold becomes a candidate with at least this
# probability; every candidate is then checked against the threshold, so extra candidates cost
# time, never precision.
CANDIDATE_RECALL = 0.98

# datasketch's defaults, fixed here because signatures are stored: seed 1 and the 32-bit affine
# permutation scheme of datasketch 2.x.
_SEED = 1
_SCHEME = "affine32"
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
    minhash = MinHash(
        num_perm=NUM_PERM, seed=_SEED, permutations=_permutations(), scheme=_SCHEME, hashfunc=int
    )
    minhash.update_batch(_shingle_hashes(words).tolist())
    return _FORMAT + minhash.hashvalues.astype("<u4").tobytes()


def _shingle_hashes(words: list[str]) -> np.ndarray:
    """A 32-bit hash of every run of `SHINGLE_WORDS` words, each run once.

    Hashing each shingle's text (SHA-1 of 640 strings a page) cost more than extracting the
    page's figures. Here each distinct word is hashed once (CRC-32: deterministic in every
    process, unlike Python's `hash`), and a shingle's hash is its words' hashes weighted by
    position and summed, modulo 2**64, all in numpy; datasketch mixes the result further
    before permuting, so the sum need not avalanche by itself.
    """
    table = {word: zlib.crc32(word.encode("utf-8")) for word in set(words)}
    codes = np.fromiter((table[word] for word in words), dtype=np.uint64, count=len(words))
    count = len(words) - SHINGLE_WORDS + 1
    mixed = np.zeros(count, dtype=np.uint64)
    for offset, key in enumerate(_POSITION_KEYS):
        mixed += codes[offset : offset + count] * key
    return np.unique(mixed >> np.uint64(32))


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
        self._lsh = MinHashLSH(
            threshold=threshold, num_perm=NUM_PERM, params=_band_params(threshold)
        )
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
        self._lsh.insert(doc_id, _lean(values), check_duplication=False)
        self._values[doc_id] = values
        self._order[doc_id] = self._added
        self._added += 1

    def remove(self, doc_id: int) -> None:
        """Forget a document (deleted, or about to be re-added with a new text)."""
        if self._values.pop(doc_id, None) is not None:
            self._lsh.remove(doc_id)
            del self._order[doc_id]

    def query(self, sig: bytes) -> list[int]:
        """Indexed documents whose estimated similarity to `sig` is at least the threshold.

        Includes the document itself if it was added. Empty for a text too short to match.
        """
        values = _hashvalues(sig)
        if values is None:
            return []
        needed = self.threshold * NUM_PERM - 1e-9
        matches = [
            doc_id
            for doc_id in self._lsh.query(_lean(values))
            if np.count_nonzero(self._values[doc_id] == values) >= needed
        ]
        return sorted(matches, key=self._order.__getitem__)

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


def _lean(values: np.ndarray) -> LeanMinHash:
    return LeanMinHash(seed=_SEED, hashvalues=values, scheme=_SCHEME)


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The permutation parameters for seed 1, generated once per process instead of per text."""
    return MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME).permutations


@lru_cache(maxsize=8)
def _band_params(threshold: float) -> tuple[int, int]:
    """The (bands, rows) with the fewest false candidates that still catch a pair at the
    threshold with probability `CANDIDATE_RECALL` (datasketch's own choice catches 40% at 0.8).
    """
    for rows in range(NUM_PERM, 0, -1):
        bands = NUM_PERM // rows
        if 1 - (1 - threshold**rows) ** bands >= CANDIDATE_RECALL:
            return bands, rows
    return NUM_PERM, 1
