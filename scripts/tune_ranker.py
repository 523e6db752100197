"""Fit the ranking weights of ``trustbot.retrieve`` (``WEIGHTS``) and the trees of
``trustbot.rerank`` on dev question sets.

Usage (indexes built beforehand with ``trustbot index build``; never pass a holdout set)::

    .venv/bin/python scripts/tune_ranker.py [--save src/trustbot/reranker.npz] \
        /tmp/q/all:/work/shared/eval/xquad-r/dev.jsonl \
        /tmp/q/normans:/work/shared/eval/squad2-normans/questions.jsonl \
        /tmp/q/sh:tests/questions/dev/paraphrases.jsonl

Each argument pairs an index folder with a question set whose answerable questions it holds.
For every answerable question the script takes the candidates ``retrieve.candidates`` proposes and
their ``FEATURES``, and fits one weight per feature and weight group (typed questions, the rest:
``retrieve.weight_group``) by maximising the listwise softmax likelihood
of the right sentence(s) among the candidates (a conditional logit, L-BFGS, light L2), and the
second stage's trees (``rerank.py``: scikit-learn's histogram gradient boosting, logistic loss,
each question weighing the same). It prints P@1 and MRR@10 of the plain 0.7 dense + 0.3 BM25
fusion, of the fitted weights and of the weights with the trees, all measured by 4-fold
cross-validation over articles (an index of a single article, like the bundled one, is split by
questions instead; everything is fitted on three folds and scored on the fourth, so the numbers
are not flattered by fitting), and then the weights fitted on everything, ready to paste into
``retrieve.py``. ``--save PATH`` (first) also writes the trees fitted on everything there; the
shipped ones are ``src/trustbot/reranker.npz``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from trustbot.embed import make_embedder
from trustbot.evaluate import is_hit, read_questions
from trustbot.rerank import RERANK, Trees, from_sklearn, inputs, reorder, save
from trustbot.retrieve import (
    BASE_DENSE,
    FEATURES,
    TREE_SIGNALS,
    WEIGHTS,
    candidates,
    tree_features,
    weight_group,
)
from trustbot.store import load_index

L2 = 1e-4
FOLDS = 4
# The trees (rerank.py): 150 of at most 6 levels. On the dev sets (4-fold) 100-300 trees and 5-6
# levels gave P@1 within a point of each other; deeper or more trees cost time per question.
TREES = 150
DEPTH = 6
GROUPS = tuple(WEIGHTS)


def design(kind: str, features: np.ndarray) -> np.ndarray:
    """The features in the columns of the question's weight group, zeros in the other groups':
    one fit then gives each group its own weights."""
    out = np.zeros((features.shape[0], len(GROUPS) * len(FEATURES)))
    g = GROUPS.index(weight_group(kind))
    out[:, g * len(FEATURES) : (g + 1) * len(FEATURES)] = features
    return out


Group = tuple[str, np.ndarray, np.ndarray, np.ndarray, str]


def groups(pairs: list[str]) -> list[Group]:
    """(article, design, is-hit, what the trees see, kind) for every answerable question with a
    hit among its candidates."""
    embedder = make_embedder(None)
    out = []
    for pair in pairs:
        index_dir, qfile = pair.split(":", 1)
        index = load_index(Path(index_dir), embedder)
        ids = {a.id for a in index.articles}
        qs = [q for q in read_questions(Path(qfile)) if q.answer is not None and q.article in ids]
        vectors = embedder.encode([q.question for q in qs])
        missed = 0
        # One article cannot be split by articles: its questions go round the folds instead.
        single = len(index.articles) == 1
        for i, (q, vec) in enumerate(zip(qs, vectors, strict=True)):
            c = candidates(index, embedder, q.question, query=vec)
            texts = [index.text(int(r)) for r in c.rows]
            y = np.array([is_hit(t, q) for t in texts])
            if y.any():
                key = f"{index_dir}:{q.article}" + (f"#{i % FOLDS}" if single else "")
                # The trees' token match, for the best RERANK by the shipped weights, as
                # ``retrieve.rank`` computes it (refitting the weights would move them little).
                best = np.argsort(-(c.features @ WEIGHTS[weight_group(c.kind)]), kind="stable")
                seen = tree_features(index, c, best[:RERANK])
                out.append((key, design(c.kind, c.features), y, seen, c.kind))
            else:
                missed += 1
        print(
            f"{qfile}: {len(qs)} answerable, {missed} without the right sentence among candidates"
        )
    return out


def fit(data: list[Group]) -> np.ndarray:
    """Weights maximising the mean log-probability of the hits under a softmax over candidates."""

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for _, x, y, *_ in data:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            py = p[y].sum()
            total -= np.log(py + 1e-12)
            grad -= (np.where(y, p, 0.0) / (py + 1e-12) - p) @ x
        return total / len(data) + L2 * w @ w, grad / len(data) + 2 * L2 * w

    start = fusion(data[0][1].shape[1])
    return np.asarray(minimize(loss, start, jac=True, method="L-BFGS-B").x)


def fusion(columns: int) -> np.ndarray:
    """The plain 0.7 dense + 0.3 BM25 mix, in every weight group's columns."""
    w = np.zeros(columns)
    for g in range(0, columns, len(FEATURES)):
        w[g : g + 2] = BASE_DENSE, 1 - BASE_DENSE
    return w


def score(data: list[Group], w: np.ndarray, trees: Trees | None = None) -> tuple[float, float]:
    """P@1 and MRR@10 of ranking each question's candidates by ``design @ w``, the best of them
    reordered by ``trees`` when given (as ``retrieve.rank`` does)."""
    p1, mrr = [], []
    for _, x, y, features, kind in data:
        order = np.argsort(-(x @ w), kind="stable")
        if trees is not None:
            order = reorder(order, features, kind, trees)
        hits = y[order][:10]
        p1.append(float(hits[0]))
        mrr.append(1.0 / (int(np.argmax(hits)) + 1) if hits.any() else 0.0)
    return float(np.mean(p1)), float(np.mean(mrr))


def fit_trees(data: list[Group]) -> Trees:
    """Gradient-boosted trees (logistic loss) telling the right sentence from the other
    candidates, each question weighing the same, as ``rerank.Trees``."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.vstack([inputs(features, kind) for *_, features, kind in data])
    y = np.concatenate([g[2] for g in data])
    weight = np.concatenate([np.full(g[2].size, 1.0 / g[2].size) for g in data])
    model = HistGradientBoostingClassifier(
        max_iter=TREES,
        learning_rate=0.05,
        max_leaf_nodes=15,
        max_depth=DEPTH,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=0,
    ).fit(x, y, sample_weight=weight)
    return dataclasses.replace(from_sklearn(model, DEPTH), signals=TREE_SIGNALS)


def main(argv: list[str]) -> None:
    out = None
    if argv[:1] == ["--save"]:
        out, argv = argv[1], argv[2:]
    data = groups(argv)
    arts = sorted({g[0] for g in data})
    rng = np.random.default_rng(0)
    whole = [a for a in arts if "#" not in a]
    fold_of = {
        a: k for k, part in enumerate(np.array_split(rng.permutation(whole), FOLDS)) for a in part
    }
    fold_of.update({a: int(a.rsplit("#", 1)[1]) for a in arts if "#" in a})
    folds = [[a for a in arts if fold_of[a] == k] for k in range(FOLDS)]
    base = fusion(len(GROUPS) * len(FEATURES))
    fold_weights = []
    results: dict[str, list[tuple[float, float, int, str]]] = {}
    indexes = list(dict.fromkeys(pair.split(":", 1)[0] for pair in argv))
    for fold in folds:
        held = set(fold)
        train = [g for g in data if g[0] not in held]
        test = [g for g in data if g[0] in held]
        w = fit(train)
        trees = fit_trees(train)
        fold_weights.append(w)
        for label, ww, tt in (
            ("plain fusion", base, None),
            ("linear", w, None),
            ("+ trees", w, trees),
        ):
            for index_dir in indexes:
                part = [g for g in test if g[0].startswith(index_dir + ":")]
                if part:
                    results.setdefault(label, []).append(
                        (*score(part, ww, tt), len(part), index_dir)
                    )
    print(f"questions: {len(data)}; articles: {len(arts)}; 4-fold P@1 / MRR@10 by index:")
    for label, rows in results.items():
        for index_dir in indexes:
            mine = [(p, m, n) for p, m, n, q in rows if q == index_dir]
            n = sum(k for _, _, k in mine)
            p1 = sum(p * k for p, _, k in mine) / n
            mrr = sum(m * k for _, m, k in mine) / n
            print(f"  {label:13s} {index_dir} ({n} questions): {p1:.3f} / {mrr:.3f}")
    w = fit(data)
    spread = np.std(np.array(fold_weights), axis=0)
    names = [f"{g}.{f}" for g in GROUPS for f in FEATURES]
    for name, value, sd in zip(names, w, spread, strict=True):
        print(f"  {name:22s} {value:8.3f}  (fold sd {sd:.3f})")
    print("WEIGHTS = {")
    for g, group in enumerate(GROUPS):
        part = w[g * len(FEATURES) : (g + 1) * len(FEATURES)]
        print(f'    "{group}": np.array([' + ", ".join(f"{v:.3f}" for v in part) + "]),")
    print("}")
    if out:
        save(fit_trees(data), out)
        print(f"trees fitted on all questions saved to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
