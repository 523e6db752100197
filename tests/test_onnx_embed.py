"""The ONNX query encoder, exported from the bundled weights, agrees with sentence-transformers.

Correctness only; its speed is measured by ``make bench``, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, Workspace, trustbot
from trustbot.embed import SentenceTransformerEmbedder, make_embedder
from trustbot.errors import ModelError
from trustbot.onnx_embed import OnnxEmbedder, ensure_export, export, onnx_file

pytestmark = pytest.mark.slow

TEXTS = [
    "Who is the chief executive?",
    "x",
    "Nick Broughton, who became chief executive of the trust last autumn, said the audit "
    "findings published at the beginning of the year were very encouraging.",
    "Ünïcödé, emoji 🙂 and numbers 1,234.56 survive tokenisation.",
    # Longer than max_seq_length (256 word pieces): both sides must truncate at the same place.
    " ".join(["The trust's board met again on Tuesday to discuss the report."] * 40),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnnxEmbedder]:
    """A fresh export of the bundled model into an empty cache folder."""
    source = SentenceTransformerEmbedder()
    cache = tmp_path_factory.mktemp("cache")
    path = ensure_export(source, cache)
    assert path == onnx_file(cache, source.weights_sha256)
    yield OnnxEmbedder(source, path)


def test_parity_with_sentence_transformers(exported: OnnxEmbedder) -> None:
    reference = exported.source.encode(TEXTS)
    for batch_size in (1, 3, 64):  # padding differs per batch size; results must not
        got = exported.encode(TEXTS, batch_size=batch_size)
        assert got.shape == reference.shape and got.dtype == np.float32
        cosine = np.sum(got * reference, axis=1)
        assert cosine.min() >= 0.999, cosine
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_token_vectors_match_sentence_transformers(exported: OnnxEmbedder) -> None:
    # The token vectors stored at index time (either encoder) and a question's (ONNX) are compared
    # token by token in token_match.py.
    ref_vectors, reference = exported.source.encode_with_tokens(TEXTS)
    for batch_size in (1, 64):
        vectors, tokens = exported.encode_with_tokens(TEXTS, batch_size=batch_size)
        assert np.sum(vectors * ref_vectors, axis=1).min() >= 0.999
        for got, ref in zip(tokens, reference, strict=True):
            assert got.pieces == ref.pieces
            assert got.vectors.shape == (len(ref.pieces), exported.dim)
            assert np.sum(got.vectors * ref.vectors, axis=1).min() >= 0.999
    assert reference[0].pieces == ("who", "is", "the", "chief", "executive", "?")
    assert len(reference[4].pieces) == 254  # 256 with [CLS] and [SEP]


def test_parity_on_news_sentences(exported: OnnxEmbedder) -> None:
    text = (ROOT / "corpus" / "southern-health.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip() and not p.startswith("---")]
    reference = exported.source.encode(paragraphs)
    cosine = np.sum(exported.encode(paragraphs) * reference, axis=1)
    assert cosine.min() >= 0.999, cosine


def test_identity_is_the_source_models(exported: OnnxEmbedder) -> None:
    # An index built with sentence-transformers must accept questions embedded by ONNX.
    assert exported.model_id == exported.source.model_id
    assert exported.weights_sha256 == exported.source.weights_sha256
    assert exported.dim == 384
    assert exported.encode([]).shape == (0, 384)


def test_factory_reuses_the_cached_export(exported: OnnxEmbedder) -> None:
    cache = exported.path.parents[1]
    before = exported.path.stat().st_mtime_ns
    embedder = make_embedder(None, cache)
    assert isinstance(embedder, OnnxEmbedder) and embedder.path == exported.path
    assert exported.path.stat().st_mtime_ns == before
    assert isinstance(make_embedder(None, None), SentenceTransformerEmbedder)


def test_export_refuses_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        export(tmp_path, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_one_shot_ask_never_imports_torch(seed_index: Workspace, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {"TRUSTBOT_CACHE_DIR": str(cache)}
    # The first question exports the encoder (this process may import torch for that) ...
    first = trustbot(*seed_index.args(), "ask", "--json", "Who is the chief executive?", env=env)
    assert first.code == 0, first.err
    assert any(cache.glob("onnx/*.onnx"))
    # ... every later one answers without torch or sentence-transformers in the process.
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['trustbot', *sys.argv[1:]]\n"
        "try:\n"
        "    runpy.run_module('trustbot', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules)\n"
        "    print('HEAVY', heavy, file=sys.stderr)\n"
        "    raise\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            *seed_index.args(),
            "ask",
            "--json",
            "Who is the chief executive?",
        ],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("TRUSTBOT_")}, **env},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr, proc.stderr
    assert proc.stdout == first.out
