"""Fit the ranking weights of ``trustbot.retrieve`` (``WEIGHTS``) on dev question sets.

Usage (indexes built beforehand with ``trustbot index build``; never pass a holdout set)::

    .venv/bin/python scripts/tune_ranker.py \
        /tmp/q/all:/work/shared/eval/xquad-r/dev.jsonl \
        /tmp/q/normans:/work/shared/eval/squad2-normans/questions.jsonl \
        /tmp/q/sh:tests/questions/dev/paraphrases.jsonl

Each argument pairs an index folder with a question set whose answerable questions it holds.
For every answerable question the script takes the candidates ``retrieve.candidates`` proposes and
their ``FEATURES``, and fits one weight per feature and weight group (typed questions, the rest:
``retrieve.weight_group``) by maximising the listwise softmax likelihood
of the right sentence(s) among the candidates (a conditional logit, L-BFGS, light L2). It prints
P@1 and MRR@10 of the plain 0.7 dense + 0.3 BM25 fusion and of the fitted weights, both measured
by 4-fold cross-validation over articles (an index of a single article, like the bundled one,
is split by questions instead; the weights are fitted on three folds and scored on the
fourth, so the numbers are not flattered by fitting), and then the weights fitted on everything,
ready to paste into ``retrieve.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from trustbot.embed import make_embedder
from trustbot.evaluate import is_hit, read_questions
from trustbot.retrieve import BASE_DENSE, FEATURES, WEIGHTS, candidates, weight_group
from trustbot.store import load_index

L2 = 1e-4
FOLDS = 4
GROUPS = tuple(WEIGHTS)


def design(kind: str, features: np.ndarray) -> np.ndarray:
    """The features in the columns of the question's weight group, zeros in the other groups':
    one fit then gives each group its own weights."""
    out = np.zeros((features.shape[0], len(GROUPS) * len(FEATURES)))
    g = GROUPS.index(weight_group(kind))
    out[:, g * len(FEATURES) : (g + 1) * len(FEATURES)] = features
    return out


def groups(pairs: list[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(article, features, is-hit) for every answerable question with a hit among candidates."""
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
            texts = [index.sentence(int(r))[0].text(index.sentence(int(r))[1]) for r in c.rows]
            y = np.array([is_hit(t, q) for t in texts])
            if y.any():
                key = f"{index_dir}:{q.article}" + (f"#{i % FOLDS}" if single else "")
                out.append((key, design(c.kind, c.features), y))
            else:
                missed += 1
        print(
            f"{qfile}: {len(qs)} answerable, {missed} without the right sentence among candidates"
        )
    return out


def fit(data: list[tuple[str, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Weights maximising the mean log-probability of the hits under a softmax over candidates."""

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for _, x, y in data:
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


def score(data: list[tuple[str, np.ndarray, np.ndarray]], w: np.ndarray) -> tuple[float, float]:
    """P@1 and MRR@10 of ranking each question's candidates by ``features @ w``."""
    p1, mrr = [], []
    for _, x, y in data:
        hits = y[np.argsort(-(x @ w), kind="stable")][:10]
        p1.append(float(hits[0]))
        mrr.append(1.0 / (int(np.argmax(hits)) + 1) if hits.any() else 0.0)
    return float(np.mean(p1)), float(np.mean(mrr))


def main(argv: list[str]) -> None:
    data = groups(argv)
    arts = sorted({a for a, _, _ in data})
    rng = np.random.default_rng(0)
    whole = [a for a in arts if "#" not in a]
    fold_of = {
        a: k for k, part in enumerate(np.array_split(rng.permutation(whole), FOLDS)) for a in part
    }
    fold_of.update({a: int(a.rsplit("#", 1)[1]) for a in arts if "#" in a})
    folds = [[a for a in arts if fold_of[a] == k] for k in range(FOLDS)]
    base = fusion(len(GROUPS) * len(FEATURES))
    cv: list[tuple[str, np.ndarray, np.ndarray]] = []
    scored_base: list[tuple[str, np.ndarray, np.ndarray]] = []
    fold_weights = []
    for fold in folds:
        held = set(fold)
        w = fit([g for g in data if g[0] not in held])
        fold_weights.append(w)
        test = [g for g in data if g[0] in held]
        cv += [(a, x @ w[:, None], y) for a, x, y in test]
        scored_base += test
    one = np.ones(1)
    print(f"questions: {len(data)}; articles: {len(arts)}")
    for label, rows, w in (("plain fusion", scored_base, base), ("fitted (4-fold)", cv, one)):
        print(f"{label:18s} all: P@1 %.3f MRR@10 %.3f" % score(rows, w))
        for pair in argv:
            part = [g for g in rows if g[0].startswith(pair.split(":", 1)[0] + ":")]
            print(f"{'':18s} {pair.split(':', 1)[1]}: P@1 %.3f MRR@10 %.3f" % score(part, w))
    w = fit(data)
    print("fitted (in-sample) P@1 {:.3f} MRR@10 {:.3f}".format(*score(data, w)))
    spread = np.std(np.array(fold_weights), axis=0)
    names = [f"{g}.{f}" for g in GROUPS for f in FEATURES]
    for name, value, sd in zip(names, w, spread, strict=True):
        print(f"  {name:22s} {value:8.3f}  (fold sd {sd:.3f})")
    print("WEIGHTS = {")
    for g, group in enumerate(GROUPS):
        part = w[g * len(FEATURES) : (g + 1) * len(FEATURES)]
        print(f'    "{group}": np.array([' + ", ".join(f"{v:.3f}" for v in part) + "]),")
    print("}")


if __name__ == "__main__":
    main(sys.argv[1:])
