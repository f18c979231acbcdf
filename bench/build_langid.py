"""Derive daemon/scoring/models/langid.npz from the installed py3langid 0.4.x model.

The daemon detects languages with py3langid's model restricted to `CANDIDATES`
(daemon/scoring/language.py).  Loading the full model at run time cost ~50 MB while it
was decompressed and ~54 MB kept, for 35 of its 142 columns; this script keeps exactly
what the walk (daemon/scoring/langwalk.py) needs, in the smallest dtypes that leave
every probability bit for bit the same:

- `ptc` (features x candidates, float16: the dtype py3langid computes with) and `pc`
  (float32), restricted to the candidate columns, with `classes` and `aliases` (pairs of
  columns sharing one label, as py3langid merges them);
- the byte automaton, with py3langid's numbering of its states, stored in pieces: each
  256-transition row (rows shared between states as in py3langid) is cut into 16 blocks
  of 16 transitions, one per high nibble of the byte, and equal blocks are stored once
  (`blocks`, uint32 targets, 16 per block): about 55,800 distinct blocks out of 613,500.
  `block_of` (uint16) names the block of each (row, high nibble) and `row` each state's
  row, so a transition is `blocks[16 * block_of[16 * row[state] + byte // 16] + byte %
  16]`: 4.8 MB where the flat table was 19.6 MB.  `output` gives each state's feature
  (-1 for none).

The model is py3langid's (BSD-3-Clause, https://github.com/adbar/py3langid); its notice
is daemon/scoring/models/langid.LICENSE.txt.  Run `python bench/build_langid.py` after
changing `CANDIDATES` or py3langid; tests/scoring/test_langwalk.py checks that the shipped
file is what this derives.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.scoring.language import CANDIDATES
from daemon.scoring.langwalk import BLOCK, MODEL_FILE

TARGET = Path(__file__).resolve().parent.parent / "daemon" / "scoring" / "models" / MODEL_FILE


def restricted_identifier() -> Any:
    """py3langid's identifier with normalised probabilities, restricted to CANDIDATES."""
    from py3langid.langid import MODEL_FILE as PY3LANGID_MODEL
    from py3langid.langid import LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(PY3LANGID_MODEL, norm_probs=True)
    identifier.set_languages(list(CANDIDATES))
    return identifier


def _blocks(nextmove: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct blocks of BLOCK transitions, flattened; the block of each row piece)."""
    pieces = nextmove.reshape(-1, BLOCK)
    blocks, block_of = np.unique(pieces, axis=0, return_inverse=True)
    if len(blocks) > 1 << 16 or blocks.max() >= 1 << 32:
        raise ValueError("the automaton outgrew the shipped dtypes")
    return blocks.reshape(-1).astype(np.uint32), block_of.reshape(-1).astype(np.uint16)


def derive() -> dict[str, np.ndarray]:
    identifier = restricted_identifier()
    nextmove = np.frombuffer(identifier.tk_nextmove, dtype=np.uint32)
    row = np.frombuffer(identifier.tk_row, dtype=np.uint16)
    output = np.asarray(identifier.tk_output, dtype=np.int64)
    if len(nextmove) % 256 or 256 * int(row.max()) >= len(nextmove):
        raise ValueError("py3langid's automaton is not a table of 256-transition rows")
    if output.max() >= 1 << 31:
        raise ValueError("the automaton outgrew the shipped dtypes")
    blocks, block_of = _blocks(nextmove)
    aliases = np.asarray(identifier._alias_pairs, dtype=np.int32).reshape(-1, 2)
    return {
        "blocks": blocks,
        "block_of": block_of,
        "row": row.astype(np.uint16),
        "output": output.astype(np.int32),
        "ptc": np.ascontiguousarray(identifier.nb_ptc),
        "pc": np.asarray(identifier.nb_pc),
        "classes": np.asarray(identifier.nb_classes, dtype=str),
        "aliases": aliases,
    }


def main() -> None:
    arrays = derive()
    np.savez_compressed(TARGET, **arrays)  # type: ignore[arg-type]
    print(f"{TARGET.name}: {TARGET.stat().st_size} bytes, "
          f"{sum(a.nbytes for a in arrays.values())} bytes loaded")


if __name__ == "__main__":
    main()
