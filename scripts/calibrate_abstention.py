"""Fit the abstention model of ``trustbot.answer`` (``SIGNAL_WEIGHTS``, ``SIGNAL_BIAS``,
``ANSWER_THRESHOLD``) on dev question sets.

Usage (indexes built beforehand with ``trustbot index build``; never pass a holdout set)::

    X=/work/shared/eval/xquad-r/dev.jsonl
    .venv/bin/python scripts/calibrate_abstention.py \
        /tmp/q/icv0:$X /tmp/q/icv1:$X /tmp/q/icv2:$X /tmp/q/icv3:$X /tmp/q/icv4:$X /tmp/q/icv5:$X \
        /tmp/q/sh:tests/questions/dev/paraphrases.jsonl \
        /tmp/q/sh:tests/questions/dev/off-topic.jsonl \
        /tmp/q/sh:tests/questions/dev/absent.jsonl \
        /tmp/q/normans:/work/shared/eval/squad2-normans/questions.jsonl

Each argument pairs an index folder with a question set. A question is answerable when it has an
answer and its article is in that index. ``icv0`` ... ``icv5`` each index 20 of the 24 xquad-r dev
articles, leaving out a different 4 (docs/quality.md has the commands that make them), and are
asked every dev question: answerable ones, and questions whose article is absent. That is the
situation of "only the dev articles indexed, holdout questions asked", built from dev data alone
and at nearly the same corpus size.

Method: the ``answer.SIGNALS`` of every question's retrieval feed a logistic regression (L-BFGS,
light L2) with every (question set, answerable?) cell weighted equally, so 3,000 xquad-r questions
do not drown 20 off-topic ones. The threshold is the one that maximises the worst of the rates
that matter: the answer rate of the xquad-r dev set and of the bundled paraphrases, and the
abstain rate of xquad-r questions about articles not indexed and of off-topic questions (a
maximin operating point, not a rate picked in advance), among the thresholds that abstain on
every off-topic question. The script prints the weights, the
threshold and the rates each set gets at it, beside those of a plain threshold on the best
sentence's cosine chosen by the same rule, ready to paste into ``answer.py``. A question asking
for advice (``asks.asks_advice``) is scored 0, as the product scores it, before the threshold
is chosen; it stays in the regression's data.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from trustbot.answer import SIGNALS, signals
from trustbot.asks import asks_advice
from trustbot.embed import make_embedder
from trustbot.evaluate import read_questions
from trustbot.retrieve import Retrieval, candidates, rank
from trustbot.store import load_index

L2 = 1e-3
# Question sets whose rates fix the threshold (file names).
TARGET_SETS = ("dev.jsonl", "paraphrases.jsonl", "off-topic.jsonl")
ALWAYS_ABSTAIN = "off-topic.jsonl"


def collect(pairs: list[str]) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Signals, answerable labels, set names and asks-advice flags for every question."""
    embedder = make_embedder(None)
    xs, ys, names, advice = [], [], [], []
    for pair in pairs:
        index_dir, qfile = pair.split(":", 1)
        index = load_index(Path(index_dir), embedder)
        ids = {a.id for a in index.articles}
        qs = read_questions(Path(qfile))
        vectors = embedder.encode([q.question for q in qs])
        for q, vec in zip(qs, vectors, strict=True):
            c = candidates(index, embedder, q.question, query=vec)
            retrieval = Retrieval(q.question, c.kind, tuple(rank(index, c)), c.unknown_names)
            xs.append(signals(index, retrieval))
            ys.append(q.answer is not None and q.article in ids)
            names.append(Path(qfile).name)
            advice.append(asks_advice(q.question))
    return np.array(xs), np.array(ys), names, np.array(advice)


def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Logistic regression: [bias, weights...] maximising the weighted log-likelihood."""
    a = np.hstack([np.ones((len(x), 1)), x])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = a @ w
        p = 1 / (1 + np.exp(-np.clip(z, -50, 50)))
        ll = weight * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))
        grad = -(weight * (y - p)) @ a
        reg = L2 * (w[1:] @ w[1:])
        return float(-ll.sum() + reg), grad + np.r_[0.0, 2 * L2 * w[1:]]

    return np.asarray(minimize(loss, np.zeros(a.shape[1]), jac=True, method="L-BFGS-B").x)


def maximin(score: np.ndarray, y: np.ndarray, names: list[str]) -> float:
    """The threshold that maximises the worst of the balanced rates: each target set's answer
    rate on its answerable questions and abstain rate on its unanswerable ones. Off-topic
    questions are to be abstained on always (issue 4), so only thresholds above every off-topic
    question's score are considered (when there are any)."""
    groups = [
        np.array([n == name for n in names]) & (y == label)
        for name in TARGET_SETS
        for label in (True, False)
    ]
    groups = [g for g in groups if g.any()]
    off_topic = np.array([n == ALWAYS_ABSTAIN for n in names])
    candidates = np.unique(score)
    if off_topic.any() and (candidates > score[off_topic].max()).any():
        candidates = candidates[candidates > score[off_topic].max()]
    best, best_t = -1.0, 0.0
    for t in candidates:
        worst = min(
            float(np.mean(score[g] >= t)) if y[g][0] else float(np.mean(score[g] < t))
            for g in groups
        )
        if worst > best:
            best, best_t = worst, float(t)
    return best_t


def main(argv: list[str]) -> None:
    x, y, names, advice = collect(argv)
    cells = [(n, bool(label)) for n, label in zip(names, y, strict=True)]
    counts = {c: cells.count(c) for c in set(cells)}
    weight = np.array([1.0 / counts[c] for c in cells])
    w = fit(x, y.astype(float), weight)
    z = w[0] + x @ w[1:]
    conf = np.where(advice, 0.0, 1 / (1 + np.exp(-z)))
    threshold = maximin(conf, y, names)
    print("signal weights:")
    for name, value in zip(SIGNALS, w[1:], strict=True):
        print(f"  {name:15s} {value:8.3f}")
    print(f"SIGNAL_WEIGHTS = ({', '.join(f'{v:.3f}' for v in w[1:])})")
    print(f"SIGNAL_BIAS = {w[0]:.3f}")
    print(f"ANSWER_THRESHOLD = {threshold:.4f}")
    # The plain threshold for comparison: the best sentence's cosine alone, same 97% rule.
    dense = x[:, SIGNALS.index("dense")]
    plain = maximin(dense, y, names)
    print(f"(plain threshold: best cosine >= {plain:.4f})")
    print("\nrates at that threshold (calibrated model | plain cosine threshold):")
    for name, label in sorted(counts):
        mask = np.array([c == (name, label) for c in cells])
        rates = []
        for score, t in ((conf, threshold), (dense, plain)):
            answered = float(np.mean(score[mask] >= t))
            rates.append(answered if label else 1 - answered)
        what = "answered " if label else "abstained"
        kind = "answerable" if label else "unanswerable"
        print(f"  {name:22s} {kind:13s} n={mask.sum():4d} {what} {rates[0]:.3f} | {rates[1]:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
