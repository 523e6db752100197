"""The second ranking stage: gradient-boosted trees over the ranking signals of the best few.

The linear score (``retrieve.WEIGHTS``) orders every candidate; the ``RERANK`` best are then
scored again by trees that see each signal relative to the question's best candidate ("this
sentence's cosine is 0.01 below the best, its coverage is the best") and the question's kind,
so they can weigh one signal by another: a linear score cannot say "the cosine decides only
when coverage ties". The trees are fitted by ``scripts/tune_ranker.py`` (scikit-learn's
histogram gradient boosting, logistic loss) and shipped as plain arrays in ``reranker.npz``;
answering needs only numpy. Every tree is stored as a complete binary tree of ``depth`` levels
(a leaf above the bottom repeats its value under it), so all trees descend one level at a time
together.

4-fold cross-validated P@1 against the linear score alone (command E of docs/quality.md):
xquad-r dev 0.789 -> 0.784, squad2-normans 0.821 -> 0.800, the tuned-on bundled paraphrases
0.818 -> 0.828, and bundled sets kept out of the fit (blind8-blind11) 0.767 -> 0.808. On nine
bundled sets written afterwards by colleagues who saw only the article (blind12-blind20, 540
questions), answered with the right sentence first 0.819 against 0.793. (Round five's figures;
refitted in round seven with the window signal: xquad-r dev 0.792 -> 0.784, squad2-normans
0.811 -> 0.800, bundled 0.822 -> 0.843.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

# How many of the linear stage's best candidates the trees order. The right sentence is in the
# linear top 10 for 97.4% of xquad-r dev questions (99.0% among all candidates), 97.9% of
# squad2-normans and 99.5% of the bundled paraphrases, and reordering the top 5, 10, 20 or all
# gave the same P@1 (within 0.2 points); 10 keeps the trees' cost near 0.1 ms a question.
RERANK = 10
KINDS = ("who", "when", "where", "count", "number", "other")
# The trees were fitted before role questions ("what is her job?") had a kind of their own; a
# job title answers them as a name answers a who-question, so they are shown as who-questions.
_SEEN_AS = {"role": "who"}
_FILE = "reranker.npz"


@dataclass(frozen=True)
class Trees:
    """Complete binary trees: node ``i``'s children are ``2i + 1`` (value <= threshold) and
    ``2i + 2``; ``leaf[t, j]`` is the value of the ``j``-th node of the bottom level."""

    feature: np.ndarray  # (trees, 2**depth - 1) input column tested at each inner node
    threshold: np.ndarray  # (trees, 2**depth - 1); +inf below a leaf: always go left
    leaf: np.ndarray  # (trees, 2**depth)
    base: float  # the log-odds every tree adds to
    signals: tuple[str, ...] = ()  # the names of the signal columns the trees were fitted on

    @property
    def depth(self) -> int:
        return int(self.leaf.shape[1]).bit_length() - 1

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The log-odds that each row of ``x`` (``inputs``) is the answer."""
        count, inner = self.feature.shape
        # Flat offsets of each tree's nodes and bottom level, and of each row of ``x``: one
        # ``take`` per array and level.
        nodes_at = np.arange(count) * inner
        leaves_at = np.arange(count) * (inner + 1) - inner
        rows_at = np.arange(x.shape[0])[:, None] * x.shape[1]
        flat = np.ascontiguousarray(x).ravel()
        node = np.zeros((x.shape[0], count), dtype=np.int64)
        for _ in range(self.depth):
            at = node + nodes_at
            value = flat.take(rows_at + self.feature.take(at))
            node = 2 * node + 1 + (value > self.threshold.take(at))
        return np.asarray(self.base + self.leaf.take(node + leaves_at).sum(axis=1))


def inputs(features: np.ndarray, kind: str) -> np.ndarray:
    """The trees' input columns: each signal minus its best value among all the question's
    candidates, then one column per question kind (1 for ``kind``)."""
    relative = features - features.max(axis=0, keepdims=True)
    onehot = np.zeros((features.shape[0], len(KINDS)))
    onehot[:, KINDS.index(_SEEN_AS.get(kind, kind))] = 1.0
    return np.column_stack([relative, onehot])


def reorder(order: np.ndarray, features: np.ndarray, kind: str, trees: Trees) -> np.ndarray:
    """``order`` (candidate positions, best first) with its first ``RERANK`` in the trees' order;
    ``features`` are all the question's candidates' signals."""
    best = order[:RERANK]
    logits = trees.logits(inputs(features, kind)[best])
    return np.concatenate([best[np.argsort(-logits, kind="stable")], order[RERANK:]])


def from_sklearn(model: Any, depth: int) -> Trees:
    """A fitted scikit-learn ``HistGradientBoostingClassifier`` (binary, ``max_depth`` at most
    ``depth``) as complete binary trees of ``depth`` levels.

    scikit-learn has no public view of these trees: this reads its fitted ``_predictors`` (node
    records ``feature_idx``, ``num_threshold``, ``left``, ``right``, ``is_leaf``, ``value``) and
    ``_baseline_prediction``. tests/test_rerank.py checks the result against the model's own
    ``decision_function``, so a scikit-learn that changes them fails there, not in a refit.
    """
    inner, bottom = 2**depth - 1, 2**depth
    count = len(model._predictors)
    feature = np.zeros((count, inner), dtype=np.int64)
    threshold = np.full((count, inner), np.inf)
    leaf = np.zeros((count, bottom))
    for t, (predictor,) in enumerate(model._predictors):
        nodes = predictor.nodes
        stack = [(0, 0, 0)]  # (scikit-learn node, our node, its level)
        while stack:
            i, at, level = stack.pop()
            node = nodes[i]
            if node["is_leaf"]:
                # Every bottom node under this one: the leftmost path from ``at`` leads there.
                span = 2 ** (depth - level)
                first = (at - (2**level - 1)) * span
                leaf[t, first : first + span] = node["value"]
                continue
            feature[t, at] = node["feature_idx"]
            threshold[t, at] = node["num_threshold"]
            stack += [(node["left"], 2 * at + 1, level + 1), (node["right"], 2 * at + 2, level + 1)]
    return Trees(feature, threshold, leaf, float(np.ravel(model._baseline_prediction)[0]))


def save(trees: Trees, path: str) -> None:
    """Write ``trees`` where ``load`` reads them."""
    np.savez_compressed(
        path,
        feature=trees.feature.astype(np.int16),
        threshold=trees.threshold,
        leaf=trees.leaf,
        base=np.array([trees.base]),
        signals=np.array(trees.signals, dtype=str),
    )


@functools.lru_cache(maxsize=1)
def load(signals: tuple[str, ...]) -> Trees:
    """The trees shipped with the package, which must have been fitted on ``signals`` (the
    ranker's features, in order): trees read with their columns shifted would rank silently
    worse."""
    with resources.files("trustbot").joinpath(_FILE).open("rb") as f, np.load(f) as z:
        trees = Trees(
            z["feature"].astype(np.int64),
            z["threshold"],
            z["leaf"],
            float(z["base"][0]),
            tuple(str(s) for s in z["signals"]),
        )
    if trees.signals != signals:
        raise RuntimeError(
            f"{_FILE} was fitted on the signals {', '.join(trees.signals)}, not on "
            f"{', '.join(signals)}: refit it with scripts/tune_ranker.py --save"
        )
    return trees
