"""The second ranking stage: tree arithmetic, the conversion from scikit-learn, the shipped file,
and that ``rank`` lets the trees order the linear stage's best candidates."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from trustbot.corpus import parse_article
from trustbot.embed import HashEmbedder
from trustbot.rerank import KINDS, RERANK, Trees, from_sklearn, inputs, load, save
from trustbot.retrieve import TREE_SIGNALS, candidates, rank
from trustbot.store import load_index, write_index


def test_logits_walk_each_tree_to_its_leaf() -> None:
    # Tree 0: x0 <= 0.5 ? (x1 <= 0 ? 1 : 2) : 3 (a leaf one level above the bottom).
    # Tree 1: a single leaf, 10, repeated over the bottom level.
    inf = np.inf
    trees = Trees(
        feature=np.array([[0, 1, 0], [0, 0, 0]]),
        threshold=np.array([[0.5, 0.0, inf], [inf, inf, inf]]),
        leaf=np.array([[1.0, 2.0, 3.0, 3.0], [10.0, 10.0, 10.0, 10.0]]),
        base=-0.5,
    )
    x = np.array([[0.2, -1.0], [0.2, 4.0], [0.9, -1.0], [0.5, 0.0]])
    assert trees.depth == 2
    assert trees.logits(x).tolist() == [10.5, 11.5, 12.5, 10.5]


def test_inputs_are_relative_to_the_best_candidate_with_the_kind() -> None:
    features = np.array([[0.5, 1.0], [0.25, 0.0]])
    x = inputs(features, "when")
    assert x[:, :2].tolist() == [[0.0, 0.0], [-0.25, -1.0]]
    assert x[:, 2:].tolist() == [[float(k == "when") for k in KINDS]] * 2


def test_scikit_learn_trees_convert_exactly(tmp_path: Path) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 5))
    y = (x[:, 0] * x[:, 1] + 0.5 * x[:, 2] + rng.normal(scale=0.3, size=3000)) > 0
    model = HistGradientBoostingClassifier(
        max_iter=20, max_depth=6, max_leaf_nodes=15, early_stopping=False
    ).fit(x, y)
    trees = from_sklearn(model, 6)
    probe = rng.normal(size=(500, 5))
    np.testing.assert_allclose(trees.logits(probe), model.decision_function(probe), atol=1e-9)
    save(dataclasses.replace(trees, signals=("a", "b")), str(tmp_path / "t.npz"))
    with np.load(tmp_path / "t.npz") as z:
        assert z["feature"].shape == trees.feature.shape
        assert z["signals"].tolist() == ["a", "b"]


def test_the_shipped_trees_fit_the_inputs() -> None:
    trees = load(TREE_SIGNALS)
    assert trees.signals == TREE_SIGNALS
    inner = trees.feature.shape[1]
    assert trees.leaf.shape == (trees.feature.shape[0], inner + 1)
    assert trees.feature.min() >= 0
    assert trees.feature.max() < len(TREE_SIGNALS) + len(KINDS)
    assert np.isfinite(trees.leaf).all()


def test_trees_fitted_on_other_signals_are_refused() -> None:
    # A signal added, dropped or moved without a refit would shift the trees' columns.
    with pytest.raises(RuntimeError, match="refit it"):
        load(TREE_SIGNALS[:-1])
    with pytest.raises(RuntimeError, match="refit it"):
        load(TREE_SIGNALS[1:] + TREE_SIGNALS[:1])


NEWS = parse_article(
    "NHS Improvement has lifted several undertakings at the trust on Tuesday.\n\n"
    "The regulator said the trust is making progress after the 2016 report.\n\n"
    "The trust has an annual turnover of around £320m.",
    "news",
)


@pytest.mark.parametrize("column", [0, 2])
def test_rank_lets_the_trees_order_the_best_candidates(tmp_path: Path, column: int) -> None:
    emb = HashEmbedder()
    write_index(tmp_path, [NEWS], emb)
    index = load_index(tmp_path, emb)
    c = candidates(index, emb, "Who lifted the undertakings on Tuesday?")
    assert 1 < len(c.rows) <= RERANK
    # One leaf for all: the linear order. One split: the candidates worst on ``column`` get
    # log-odds 5, the others 0, so one of them must come first.
    flat = Trees(np.zeros((1, 0), dtype=np.int64), np.zeros((1, 0)), np.zeros((1, 1)), 0.0)
    worst = float(inputs(c.features, c.kind)[:, column].min())
    split = Trees(np.array([[column]]), np.array([[worst]]), np.array([[5.0, 0.0]]), 0.0)
    lowest = c.features[:, column].min()
    worst_rows = {int(r) for r, f in zip(c.rows, c.features[:, column], strict=True) if f == lowest}
    assert rank(index, c, None, flat)[0].row not in worst_rows
    assert rank(index, c, None, split)[0].row in worst_rows
