"""py3langid's `rank`, computed the same way at a fraction of the cost and memory.

py3langid finds its character n-gram features by walking a byte automaton one byte at a
time in Python -- most of a detection's time.  Messages repeat their words (Zipf), and
from a given automaton state a given word always leads to the same state and the same
features, so `Walker` walks each (state, word) once and remembers it: a message costs a
dictionary look-up per word instead of a step per byte.  The features come out in the
same order with the same counts, and the scoring is py3langid's own numpy arithmetic on
the model's own tables, so the probabilities are bit for bit those of
`LanguageIdentifier.rank` restricted to the same languages
(tests/scoring/test_langwalk.py holds them equal).

The tables ship in the package (models/langid.npz, derived from py3langid's model by
bench/build_langid.py, which describes the layout; BSD licence in
models/langid.LICENSE.txt), so py3langid itself is not needed at run time.  The
automaton's transitions are stored as distinct blocks of 16 (one more look-up per byte
walked, and only on a memo miss): the loaded tables cost ~12.5 MB, of which 7 MB are the
features' probabilities, where a flat transition table cost ~28 MB and py3langid's full
model ~54 MB kept and ~50 MB more while loading.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from importlib import resources
from operator import itemgetter
from typing import Any

import numpy as np

MODEL_FILE = "langid.npz"
#: Transitions per stored block: a byte's high bits pick the block, its low bits the target.
BLOCK_BITS = 4
BLOCK = 1 << BLOCK_BITS
_LOW = BLOCK - 1
_SPACE_BLOCK, _SPACE_AT = divmod(0x20, BLOCK)
_MEMO_LIMIT = 50_000  # (state, word) pairs, a few MB; then cleared


def load_tables() -> dict[str, Any]:
    """The shipped tables, by name (see bench/build_langid.py)."""
    source = resources.files("daemon.scoring").joinpath("models", MODEL_FILE)
    with resources.as_file(source) as path, np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


class Walker:
    """Ranks text with py3langid's normalised probabilities; read-only tables, a memo
    that is only ever added to or cleared (safe under the GIL)."""

    def __init__(self, tables: dict[str, Any]) -> None:
        # Element access from Python: memoryviews over the arrays (plain ints, no copy).
        self._blocks = memoryview(tables["blocks"])
        self._block_of = memoryview(tables["block_of"])
        #: Where each state's row starts in `block_of` (256 // BLOCK pieces a row).
        self._rowbase = memoryview(tables["row"].astype(np.uint32) * (256 // BLOCK))
        self._output = memoryview(tables["output"])
        self._ptc = tables["ptc"]
        self._pc = tables["pc"]
        self._classes: list[str] = tables["classes"].tolist()
        self._aliases: list[tuple[int, int]] = [
            (int(first), int(dupe)) for first, dupe in tables["aliases"]]
        self._memo: dict[tuple[int, bytes], tuple[int, tuple[int, ...]]] = {}

    @classmethod
    def shipped(cls) -> Walker:
        return cls(load_tables())

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._classes)

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Every candidate language with its probability, best first."""
        if text.isupper():
            text = text.lower()
        data = unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")
        found = self._features(data)
        if found:
            visits = Counter(found)
            index = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
            counts = np.fromiter(visits.values(), dtype=np.float32, count=len(visits))
            scores = np.log1p(counts) @ self._ptc[index] + self._pc
        else:
            scores = np.full(len(self._classes), 0.0, dtype=np.float32)
        scores *= 1.0 / math.sqrt(len(data) or 1)
        np.exp(scores - scores.max(), out=scores)
        scores /= scores.sum()
        if not self._aliases:  # one column per language: nothing to merge
            return sorted(zip(self._classes, scores.tolist(), strict=True),
                          key=itemgetter(1), reverse=True)
        for first, dupe in self._aliases:
            scores[first] += scores[dupe]
            scores[dupe] = 0.0
        merged: dict[str, float] = {}
        for language, score in zip(self._classes, scores.tolist(), strict=True):
            merged.setdefault(language, score)
        return sorted(merged.items(), key=itemgetter(1), reverse=True)

    def _features(self, data: bytes) -> list[int]:
        """The automaton's feature ids over `data`, in the order a byte walk emits them."""
        blocks, block_of, rowbase = self._blocks, self._block_of, self._rowbase
        output, memo = self._output, self._memo
        bits, space_block, space_at = BLOCK_BITS, _SPACE_BLOCK, _SPACE_AT
        found: list[int] = []
        state = 0
        for number, word in enumerate(data.split(b" ")):
            if number:  # the space before every word but the first
                state = blocks[(block_of[rowbase[state] + space_block] << bits) + space_at]
                if output[state] >= 0:
                    found.append(output[state])
            known = memo.get((state, word))
            if known is None:
                known = self._walk(state, word)
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                memo[(state, word)] = known
            state = known[0]
            found.extend(known[1])
        return found

    def _walk(self, state: int, word: bytes) -> tuple[int, tuple[int, ...]]:
        blocks, block_of, rowbase = self._blocks, self._block_of, self._rowbase
        output, bits, low = self._output, BLOCK_BITS, _LOW
        found: list[int] = []
        for byte in word:
            state = blocks[(block_of[rowbase[state] + (byte >> bits)] << bits) + (byte & low)]
            if output[state] >= 0:
                found.append(output[state])
        return state, tuple(found)


__all__ = ["BLOCK", "BLOCK_BITS", "MODEL_FILE", "Walker", "load_tables"]
