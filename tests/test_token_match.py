"""The token match: MaxSim arithmetic, the stored token vectors, and an index written before they
were stored (encoded when first needed, stored at the next build)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trustbot import token_match
from trustbot.corpus import parse_article
from trustbot.embed import HashEmbedder, Tokens
from trustbot.store import load_index, read_manifest, without_token_vectors, write_index

STOP = frozenset({"who", "the", "of"})
NEWS = parse_article(
    "NHS Improvement has lifted several undertakings at the trust on Tuesday.\n\n"
    "Nick Broughton, the chief executive, said: “We are very pleased.”\n\n"
    "The trust has an annual turnover of around £320m.",
    "news",
)


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    token_match._cache.clear()


def test_content_mask_leaves_out_punctuation_and_stop_words() -> None:
    mask = token_match.content_mask(("who", "lifted", "the", "under", "##takings", "?"), STOP)
    assert mask.tolist() == [False, True, False, True, True, False]
    # A question of nothing else keeps every token rather than none.
    assert token_match.content_mask(("who", "?"), STOP).tolist() == [True, True]


def test_maxsim_averages_each_question_tokens_best_cosine() -> None:
    e = np.eye(3, dtype=np.float32)
    question = Tokens(("a", "b", "c"), e)
    stored = (e[[0, 2]] * token_match.SCALE).astype(np.int8)  # holds a and c, not b
    mask = np.array([True, True, False])
    got = token_match.maxsim(question, mask, [stored, stored[:0], stored[1:]])
    # a finds itself (1), b nothing (0); a sentence of no tokens scores 0; one of only c, 0.
    assert got == pytest.approx([0.5, 0.0, 0.0])


def test_pack_keeps_each_sentences_tokens(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sentences = [rng.normal(size=(n, 8)) for n in (3, 0, 5)]
    units = [(v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32) for v in sentences]
    units[1] = np.zeros((0, 8), dtype=np.float32)
    path = tmp_path / "t.npy"
    path.write_bytes(token_match.pack(units, 8))
    back = token_match._unpack(path, 3, [2, 0, 1])
    assert sorted(back) == [0, 1, 2] and [len(back[i]) for i in range(3)] == [3, 0, 5]
    for i, want in enumerate(units):
        np.testing.assert_allclose(back[i] / token_match.SCALE, want, atol=0.5 / token_match.SCALE)
    assert token_match._unpack(path, 3, [2]).keys() == {2}  # read without the others
    assert path in token_match._layouts  # where its sentences lie, remembered
    assert token_match._unpack(path, 4, [0]) == {}  # another article's sentence count
    assert token_match._unpack(tmp_path / "missing.npy", 3, [0]) == {}
    path.write_bytes(path.read_bytes()[:-10])  # cut short
    assert token_match._unpack(path, 3, [2]) == {}


def _token_files(index_dir: Path) -> list[Path]:
    return sorted((index_dir / "vectors").glob("*.tokens.npy"))


def test_the_index_stores_token_vectors_and_ranking_reads_them(tmp_path: Path) -> None:
    emb = HashEmbedder()
    write_index(tmp_path, [NEWS], emb)
    (stored,) = _token_files(tmp_path)
    index = load_index(tmp_path, emb)
    (art,) = index.articles
    assert art.tokens == stored
    rows = list(range(len(art.sentences)))
    question = "Who lifted the undertakings on Tuesday?"
    got = token_match.scores(index, emb, question, rows, STOP)
    assert int(np.argmax(got)) == 0 and got[0] == pytest.approx(1.0, abs=0.01)
    # The same numbers from the model when the stored file is gone (an index written before
    # round twenty): nothing cached, nothing stored, all encoded again.
    token_match._cache.clear()
    stored.unlink()
    again = token_match.scores(load_index(tmp_path, emb), emb, question, rows, STOP)
    np.testing.assert_allclose(again, got)


def test_a_build_stores_the_token_vectors_an_older_index_lacks(tmp_path: Path) -> None:
    emb = HashEmbedder()
    write_index(tmp_path, [NEWS], emb)
    (stored,) = _token_files(tmp_path)
    assert without_token_vectors(tmp_path, read_manifest(tmp_path)["articles"]) == 0
    stored.unlink()
    assert without_token_vectors(tmp_path, read_manifest(tmp_path)["articles"]) == 1
    write_index(tmp_path, [NEWS], emb)
    assert _token_files(tmp_path) == [stored]
    assert without_token_vectors(tmp_path, read_manifest(tmp_path)["articles"]) == 0
    changed = parse_article(NEWS.body + "\n\nA fourth sentence arrived later.", "news")
    write_index(tmp_path, [changed], emb)
    (art,) = load_index(tmp_path, emb).articles
    assert art.tokens is not None and art.tokens != stored
    assert len(token_match._unpack(art.tokens, len(art.sentences), range(4))) == 4


def test_an_index_naming_no_token_vectors_is_rebuilt_with_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As an index written before round twenty: no "tokens" in its article tables, no files. An
    # update must store them even where it would otherwise only append a segment.
    import json

    from trustbot import segments

    emb = HashEmbedder()
    write_index(tmp_path, [NEWS], emb)
    for table in tmp_path.glob("gen-*/articles.json"):
        entries = json.loads(table.read_text())
        for e in entries:
            e.pop("tokens")
        table.write_text(json.dumps(entries))
    for f in _token_files(tmp_path):
        f.unlink()
    (art,) = load_index(tmp_path, emb).articles
    assert art.tokens is None
    assert without_token_vectors(tmp_path, read_manifest(tmp_path)["articles"]) == 1
    monkeypatch.setattr(segments, "MIN_ROWS", 1)  # large enough to take a segment
    write_index(tmp_path, [NEWS], emb)
    (art,) = load_index(tmp_path, emb).articles
    assert art.tokens is not None and art.tokens.is_file()


def test_the_cache_keeps_models_apart(tmp_path: Path) -> None:
    # Two embedders of other sizes (the same weights' checksum) ask of the same article.
    rows = [0, 1]
    for dim, folder in ((32, tmp_path / "a"), (64, tmp_path / "b")):
        emb = HashEmbedder(dim=dim)
        write_index(folder, [NEWS], emb)
        got = token_match.scores(load_index(folder, emb), emb, "Who lifted it?", rows, STOP)
        assert got.shape == (2,) and got[0] > 0
