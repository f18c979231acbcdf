"""The shipped language tables are what bench/build_langid.py derives from py3langid, and
the word-at-a-time walk over them ranks exactly as py3langid does (restricted to the same
candidates): same languages, same order, bit-identical probabilities, on every graded
message and on text that strains the byte walk (runs of spaces, capitals, accents, other
scripts, emoji), and its blocks of transitions are py3langid's table."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from daemon.scoring.language import SAMPLE_CHARS, shared_detector, strip_for_detection
from daemon.scoring.langwalk import BLOCK, Walker, load_tables

ROOT = Path(__file__).resolve().parents[2]
GRADED = ROOT / "bench" / "data" / "graded_messages.csv"
ODD = [
    "", " ", "   two  spaces   between ", "ALL CAPS MESSAGE NOW", "Kündigung zum 31.",
    "Ça ne marche pas, désolé", "¿Dónde está mi pedido?", "Não consigo entrar",
    "Привет, у меня проблема с заказом", "注文がまだ届きません", "👍👍 great 👍",
    "e\u0301te\u0301 (decomposed accents)", "tab\tand\nnewline", "ok", "x" * 300,
    "Zażółć gęślą jaźń", "Αυτό δεν λειτουργεί", "مرحبا، لدي مشكلة", "안녕하세요 주문",
    "สวัสดีครับ", "नमस्ते मेरा ऑर्डर", "Tôi không thể đăng nhập", "\ud800 lone surrogate",
]


def _build_module() -> ModuleType:
    path = ROOT / "bench" / "build_langid.py"
    spec = importlib.util.spec_from_file_location("build_langid", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_langid", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build() -> ModuleType:
    return _build_module()


@pytest.fixture(scope="module")
def identifier(build: ModuleType) -> Any:
    return build.restricted_identifier()


def _texts() -> list[str]:
    with GRADED.open(encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)] + ODD


def test_the_shipped_tables_are_what_the_build_derives(build: ModuleType) -> None:
    shipped, derived = load_tables(), build.derive()
    assert sorted(shipped) == sorted(derived)
    for name, array in derived.items():
        assert shipped[name].dtype == array.dtype, name
        assert np.array_equal(shipped[name], array), name


def test_the_walk_ranks_exactly_as_py3langid(identifier: Any) -> None:
    detector = shared_detector()
    for text in _texts() * 2:  # the second pass is served from the walk's memo
        sample = strip_for_detection(text)[:SAMPLE_CHARS]
        assert detector.rank(sample) == identifier.rank(sample), text


def test_every_transition_leads_where_py3langid_does(identifier: Any) -> None:
    """The blocks put back together are py3langid's transition table, entry for entry."""
    tables = load_tables()
    assert len(tables["blocks"]) < len(identifier.tk_nextmove) // 10  # they do share
    blocks = tables["blocks"].reshape(-1, BLOCK)
    rows = blocks[tables["block_of"]].reshape(-1, 256)
    assert np.array_equal(rows[tables["row"]],
                          np.frombuffer(identifier.tk_nextmove, dtype=np.uint32)
                          .reshape(-1, 256)[np.frombuffer(identifier.tk_row, np.uint16)])
    assert np.array_equal(tables["output"], np.asarray(identifier.tk_output))


def test_the_byte_walk_emits_py3langids_features(identifier: Any) -> None:
    """Walk py3langid's automaton and ours side by side, every byte (spaces too): both
    emit the same features in the same order and end in the same state."""
    walker = Walker(load_tables())
    for text in _texts():
        data = text.encode("utf8", errors="surrogatepass")
        ours = walker._walk(0, data)
        theirs, state = [], 0
        for byte in data:
            state = identifier.tk_nextmove[identifier._rowbase[state] + byte]
            if identifier.tk_output[state] >= 0:
                theirs.append(identifier.tk_output[state])
        assert ours == (state, tuple(theirs)), text


def test_the_daemon_does_not_import_py3langid() -> None:
    import subprocess

    code = ("import sys; from daemon.scoring.language import shared_detector; "
            "shared_detector().detect('Bonjour, ma commande est en retard'); "
            "print('py3langid' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"
