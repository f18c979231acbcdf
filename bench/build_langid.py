"""Derive daemon/scoring/models/langid.npz from the installed py3langid 0.4.x model.

The daemon detects languages with py3langid's model restricted to `CANDIDATES`
(daemon/scoring/language.py).  Loading the full model at run time cost ~50 MB while it
was decompressed and ~54 MB kept, for 35 of its 142 columns; this script keeps exactly
what the walk (daemon/scoring/langwalk.py) needs, in the smallest dtypes that leave
every probability bit for bit the same:

- `ptc` (features x candidates, float16: the dtype py3langid computes with) and `pc`
  (float32), restricted to the candidate columns, with `classes` and `aliases` (pairs of
  columns sharing one label, as py3langid merges them);
- the byte automaton, unchanged but for the numbering of its states: states are ordered
  by how many transitions lead to them, so that the 65,535 most common targets fit a
  uint16 `nextmove` (rows of 256 transitions, shared between states as in py3langid);
  the few transitions to the others (about 39,000 of 9.8 million) hold `ESCAPE` and
  their targets are in `escape_at` (flat index, sorted) and `escape_to`.  `row` gives
  each state's transition row and `output` its feature (-1 for none).

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
from daemon.scoring.langwalk import ESCAPE, MODEL_FILE

TARGET = Path(__file__).resolve().parent.parent / "daemon" / "scoring" / "models" / MODEL_FILE


def restricted_identifier() -> Any:
    """py3langid's identifier with normalised probabilities, restricted to CANDIDATES."""
    from py3langid.langid import MODEL_FILE as PY3LANGID_MODEL
    from py3langid.langid import LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(PY3LANGID_MODEL, norm_probs=True)
    identifier.set_languages(list(CANDIDATES))
    return identifier


def _renumbered(nextmove: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(new number of each old state, old state of each new number): most common target
    first, ties by old number; the start state keeps number 0."""
    counts = np.bincount(nextmove, minlength=len(row))
    order = np.lexsort((np.arange(len(row)), -counts))
    order = np.concatenate(([0], order[order != 0]))
    new_of_old = np.empty(len(row), dtype=np.int64)
    new_of_old[order] = np.arange(len(row))
    return new_of_old, order


def derive() -> dict[str, np.ndarray]:
    identifier = restricted_identifier()
    nextmove = np.frombuffer(identifier.tk_nextmove, dtype=np.uint32).astype(np.int64)
    row = np.frombuffer(identifier.tk_row, dtype=np.uint16)
    output = np.asarray(identifier.tk_output, dtype=np.int64)
    new_of_old, old_of_new = _renumbered(nextmove, row)
    targets = new_of_old[nextmove]
    escaped = np.flatnonzero(targets >= ESCAPE)
    if row.max() >= 1 << 16 or output.max() >= 1 << 31 or len(nextmove) >= 1 << 32:
        raise ValueError("the automaton outgrew the shipped dtypes")
    aliases = np.asarray(identifier._alias_pairs, dtype=np.int32).reshape(-1, 2)
    return {
        "nextmove": np.where(targets >= ESCAPE, ESCAPE, targets).astype(np.uint16),
        "escape_at": escaped.astype(np.uint32),
        "escape_to": targets[escaped].astype(np.uint32),
        "row": row[old_of_new].astype(np.uint16),
        "output": output[old_of_new].astype(np.int32),
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
