"""trustbot benchmarks: each cost beside a bare baseline measured in the same run.

    .venv/bin/python benchmarks/run.py            # full run (`make bench`): up to 1M sentences
    .venv/bin/python benchmarks/run.py --quick    # small sizes, a few minutes, for development

Writes ``benchmarks/out/report.md`` and ``benchmarks/out/report.json``. Nothing here asserts a
time: targets are reported as met or not, and the tests check correctness only.

What is real and what is synthetic:
- cold start, warm latency, build throughput and peak memory use the real model on real
  articles (the bundled article and the 48-article xquad-r set in shared/eval);
- the scale section uses synthetic vectors (mixtures of the real xquad-r sentence vectors plus
  noise) and synthetic sentences (words drawn from the xquad-r text) for the lexical side, with
  real questions (xquad-r dev split, embedded by the real model);
- the incremental section builds base corpora of real xquad-r sentences in shuffled synthetic
  articles, embedded with random vectors (only the added articles are embedded by the model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from trustbot import vectors  # noqa: E402
from trustbot.corpus import Article, content_hash, load_corpus  # noqa: E402
from trustbot.embed import SentenceTransformerEmbedder, make_embedder  # noqa: E402
from trustbot.lexical import LexicalIndex  # noqa: E402
from trustbot.text import split_sentences  # noqa: E402

BIN = Path(sys.executable).parent
SEED_CORPUS = ROOT / "corpus"
XQUAD = ROOT.parent / "shared" / "eval" / "xquad-r"  # shared/ lies beside the checkout
QUESTION = "Who is the chief executive?"

Row = dict[str, Any]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@dataclass
class Target:
    name: str
    value: float
    limit: float
    higher_is_better: bool = False

    @property
    def met(self) -> bool:
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def row(self) -> Row:
        return {
            "target": self.name,
            "measured": round(self.value, 3),
            "limit": ("≥ " if self.higher_is_better else "≤ ") + str(self.limit),
            "met": self.met,
        }


# --------------------------------------------------------------------------- machine


def machine() -> Row:
    cpu = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    versions = {}
    for mod in ("torch", "sentence_transformers", "onnxruntime", "faiss", "bm25s", "numpy"):
        try:
            out = subprocess.run(
                [sys.executable, "-c", f"import {mod}; print({mod}.__version__)"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            versions[mod] = out.stdout.strip()
        except subprocess.TimeoutExpired:
            versions[mod] = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "versions": versions,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# --------------------------------------------------------------------------- cold start


def wall(cmd: Sequence[str], env: dict[str, str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-500:]}")
    return times


def cold_start(work: Path, cache: Path, xquad_index: Path, repeat: int) -> Row:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTBOT_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TRUSTBOT_CACHE_DIR=str(cache))
    seed_index = work / "seed-index"
    trustbot = str(BIN / "trustbot")
    subprocess.run(
        [trustbot, "--corpus", str(SEED_CORPUS), "--index", str(seed_index), "index", "build"],
        check=True,
        capture_output=True,
        env=env,
    )
    # First question after a fresh cache: the one-time ONNX export (torch is imported for it).
    shutil.rmtree(cache, ignore_errors=True)
    ask = [trustbot, "--corpus", str(SEED_CORPUS), "--index", str(seed_index), "ask", QUESTION]
    export = wall(ask, env, 1)[0]
    py = str(BIN / "python")
    # One untimed run of each first, so every command starts from a warm page cache.
    runs: dict[str, list[float]] = {}
    commands = {
        "bare `python -c pass`": [py, "-c", "pass"],
        "bare `python -c 'import torch'`": [py, "-c", "import torch"],
        "bare `python -c 'import sentence_transformers'`": [
            py,
            "-c",
            "import sentence_transformers",
        ],
        "`trustbot ask` (bundled article)": ask,
        "`trustbot ask` (48 xquad-r articles)": [
            trustbot,
            "--corpus",
            str(XQUAD / "articles"),
            "--index",
            str(xquad_index),
            "ask",
            "When did the oil crisis begin?",
        ],
    }
    for cmd in commands.values():
        wall(cmd, env, 1)
    for _ in range(repeat):  # interleaved, so load from other work hits all alike
        for name, cmd in commands.items():
            runs.setdefault(name, []).extend(wall(cmd, env, 1))
    rows = [
        {"command": name, "median_s": round(statistics.median(t), 3), "min_s": round(min(t), 3)}
        for name, t in runs.items()
    ]
    torch_s = statistics.median(runs["bare `python -c 'import torch'`"])
    ask_s = statistics.median(runs["`trustbot ask` (bundled article)"])
    return {
        "rows": rows,
        "first_ask_with_onnx_export_s": round(export, 2),
        "ratio_ask_to_import_torch": round(ask_s / torch_s, 3),
        "repeat": repeat,
    }


def import_profile(cache: Path, index: Path) -> list[Row]:
    """Top-level modules by cumulative import time in one cold `trustbot ask`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTBOT_")}
    env.update(HF_HUB_OFFLINE="1", TRUSTBOT_CACHE_DIR=str(cache))
    cmd = [str(BIN / "python"), "-X", "importtime", "-m", "trustbot"]
    cmd += ["--corpus", str(SEED_CORPUS), "--index", str(index), "ask", QUESTION]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if name.startswith("  ") or not cumulative.strip().isdigit():
            continue  # only top-level imports (nested ones are inside their parents)
        rows.append({"module": name.strip(), "ms": round(int(cumulative) / 1000, 1)})
    rows.sort(key=lambda r: r["ms"], reverse=True)
    return rows[:8]


# --------------------------------------------------------------------------- build + warm


def xquad_texts(articles: Sequence[Article]) -> list[str]:
    return [a.body[s.start : s.end] for a in articles for s in split_sentences(a.body)]


def dev_questions(limit: int, field: str = "question") -> list[str]:
    lines = (XQUAD / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)[field] for line in lines if line.strip()][:limit]


def build_throughput(
    work: Path, st: SentenceTransformerEmbedder, onnx: Any, rounds: int
) -> tuple[Row, Path]:
    """Full rebuilds of the xquad-r index beside the bare model encoding the same texts."""
    from trustbot.store import passage_inputs, write_index

    articles = load_corpus(XQUAD / "articles")
    # The bare model gets exactly what trustbot embeds for each sentence.
    texts = [t for a in articles for t in passage_inputs(a, split_sentences(a.body))]
    model: Any = st._load()
    st.encode(texts[:64])  # warm up both
    onnx.encode(texts[:64])
    rates: dict[str, list[float]] = {"bare": [], "bare_onnx": [], "onnx": [], "torch": []}
    dirs = {"onnx": work / "xquad-index", "torch": work / "xquad-index-torch"}
    for r in range(rounds):  # interleaved: a burst of other work hits all alike
        log(f"build throughput round {r + 1}/{rounds}: bare encode of {len(texts)} sentences")
        started = time.perf_counter()
        model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
        rates["bare"].append(len(texts) / (time.perf_counter() - started))
        started = time.perf_counter()
        onnx.encode(texts, batch_size=64)
        rates["bare_onnx"].append(len(texts) / (time.perf_counter() - started))
        for name, embedder in (("onnx", onnx), ("torch", st)):
            log(f"  trustbot write_index (full rebuild, {name} encoder)")
            shutil.rmtree(dirs[name], ignore_errors=True)
            report = write_index(dirs[name], articles, embedder, reuse=False)
            rates[name].append(report.sentences / report.seconds)
    best = {k: max(v) for k, v in rates.items()}
    row = {
        "articles": len(articles),
        "sentences": len(texts),
        "bare_encode_per_s": round(best["bare"], 1),
        "bare_onnx_encode_per_s": round(best["bare_onnx"], 1),
        "trustbot_build_per_s": round(best["onnx"], 1),
        "ratio": round(best["onnx"] / best["bare"], 3),
        # Against the faster raw encoder too: what the build adds beyond encoding.
        "ratio_to_faster_bare": round(best["onnx"] / max(best["bare"], best["bare_onnx"]), 3),
        "build_with_torch_encoder_per_s": round(best["torch"], 1),
        "ratio_with_torch_encoder": round(best["torch"] / best["bare"], 3),
        "rounds": rounds,
        "all": {k: [round(x, 1) for x in v] for k, v in rates.items()},
    }
    return row, dirs


def eval_both(dirs: dict[str, Path], st: SentenceTransformerEmbedder, onnx: Any) -> list[Row]:
    """xquad-r dev metrics for an index built and queried with either encoder."""
    from trustbot.answer import ANSWER_THRESHOLD, Answerer
    from trustbot.evaluate import evaluate, read_questions
    from trustbot.store import load_index

    sets = [("dev", read_questions(XQUAD / "dev.jsonl"))]
    rows = []
    for built, asked in (("torch", st), ("torch", onnx), ("onnx", onnx)):
        log(f"eval: index built with {built}, questions by {type(asked).__name__}")
        report = evaluate(Answerer(load_index(dirs[built]), asked), sets, ANSWER_THRESHOLD)
        m = report.total.as_dict()
        rows.append(
            {
                "index built with": built,
                "questions embedded with": "onnx" if asked is onnx else "torch",
                **{k: m[k] for k in ("p_at_1", "r_at_5", "mrr_at_10", "answer_rate")},
            }
        )
    return rows


BARE_WARM = """
import json, sys, time
import faiss, numpy as np
from sentence_transformers import SentenceTransformer
from trustbot.embed import bundled_model_path
questions = json.loads(sys.argv[2])
if sys.argv[3] == "1":
    import torch
    torch.set_num_threads(1)
flat = faiss.IndexFlatIP(384)
flat.add(np.load(sys.argv[1]))
model = SentenceTransformer(str(bundled_model_path()), device="cpu")
def ask(q):
    v = model.encode([q], convert_to_numpy=True, normalize_embeddings=True)
    flat.search(np.ascontiguousarray(v, dtype=np.float32), 10)
for q in questions[:5]:
    ask(q)
times = []
for q in questions:
    started = time.perf_counter()
    ask(q)
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""

OURS_WARM = """
import json, sys, time
from pathlib import Path
from trustbot.answer import Answerer
from trustbot.config import Settings
questions = json.loads(sys.argv[4])
# With a fifth argument, each question is asked of its own article only (`ask --article`).
articles = json.loads(sys.argv[5]) if len(sys.argv) > 5 else [()] * len(questions)
answerer = Answerer.open(Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]),
                                  cache_dir=Path(sys.argv[3])))
for q, a in list(zip(questions, articles))[:5]:
    answerer.within(a).ask(q)
times = []
for q, a in zip(questions, articles):
    started = time.perf_counter()
    answerer.within(a).ask(q)
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


def warm_latency(index_dir: Path, cache: Path, work: Path, n: int, rounds: int) -> Row:
    """Per-question latency, each side in its own warm process (no shared thread pools)."""
    from trustbot.store import load_index

    questions = json.dumps(dev_questions(n))
    index = load_index(index_dir).faiss_index
    vectors_file = work / "xquad-vectors.npy"
    np.save(vectors_file, index.reconstruct_n(0, index.ntotal))
    bare_cmd = [sys.executable, "-c", BARE_WARM, str(vectors_file), questions]
    # torch's two OpenMP threads stall badly while other work holds a core; one thread may win
    # then. The bare baseline is whichever is faster in this run.
    bare_1 = [*bare_cmd, "1"]
    bare_cmd.append("default")
    ours_cmd = [sys.executable, "-c", OURS_WARM, str(XQUAD / "articles"), str(index_dir)]
    ours_cmd += [str(cache), questions]
    scoped_cmd = [*ours_cmd, json.dumps([[a] for a in dev_questions(n, "article")])]
    runs: dict[str, list[list[float]]] = {
        "bare": [],
        "ours": [],
        "bare_1_thread": [],
        "ours_scoped": [],
    }
    commands = (
        ("bare", bare_cmd),
        ("ours", ours_cmd),
        ("bare_1_thread", bare_1),
        ("ours_scoped", scoped_cmd),
    )
    for _ in range(rounds):  # alternated, so a burst of other work hits all alike
        for name, cmd in commands:
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=1800)
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))

    def best(name: str, q: float) -> float:
        if name == "bare":
            return min(best("bare_default", q), best("bare_1_thread", q))
        key = "bare" if name == "bare_default" else name
        return min(pct(times, q) for times in runs[key])

    return {
        "questions": len(runs["ours"][0]),
        "sentences": int(index.ntotal),
        "trustbot_p50_ms": ms(best("ours", 50)),
        "trustbot_p95_ms": ms(best("ours", 95)),
        "bare_p50_ms": ms(best("bare", 50)),
        "bare_p95_ms": ms(best("bare", 95)),
        "bare_torch_default_threads_p50_ms": ms(best("bare_default", 50)),
        "bare_torch_1_thread_p50_ms": ms(best("bare_1_thread", 50)),
        "ratio_p50": round(best("ours", 50) / best("bare", 50), 3),
        "ratio_p95": round(best("ours", 95) / best("bare", 95), 3),
        "trustbot_one_article_p50_ms": ms(best("ours_scoped", 50)),
        "trustbot_one_article_p95_ms": ms(best("ours_scoped", 95)),
        "rounds": rounds,
    }


PEAK_SCRIPT = """
import json, sys
from pathlib import Path
def peak_mib():
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child of this (torch-loaded)
    # benchmark process would report the parent's peak.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
from trustbot.answer import Answerer
from trustbot.config import Settings
corpus, index, cache = sys.argv[1:4]
s = Settings(corpus_dir=Path(corpus), index_dir=Path(index),
             cache_dir=Path(cache) if cache != "-" else None)
a = Answerer.open(s)
for q in json.loads(sys.argv[4]):
    a.ask(q)
print(json.dumps({"encoder": type(a.embedder).__name__,
                  "peak_rss_mib": peak_mib()}))
"""


def peak_memory(index_dir: Path, cache: Path) -> list[Row]:
    questions = json.dumps(dev_questions(20))
    rows = []
    for label, c in (("ONNX query encoder (default)", str(cache)), ("sentence-transformers", "-")):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                PEAK_SCRIPT,
                str(XQUAD / "articles"),
                str(index_dir),
                c,
                questions,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        data = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append({"answerer": label, **data, "peak_rss_mib": round(data["peak_rss_mib"])})
    return rows


# --------------------------------------------------------------------------- scale


def synthetic_vectors(real: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Unit vectors near mixtures of real sentence vectors: structured like real embeddings."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    step = 100_000
    for lo in range(0, n, step):
        m = min(step, n - lo)
        picks = rng.integers(0, len(real), (m, 3))
        w = rng.uniform(0.0, 0.7, (m, 2)).astype(np.float32)
        x = real[picks[:, 0]] + w[:, :1] * real[picks[:, 1]] + w[:, 1:] * real[picks[:, 2]]
        x += rng.standard_normal(x.shape, dtype=np.float32) * np.float32(0.5 / np.sqrt(x.shape[1]))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[lo : lo + m] = x
    return out


def synthetic_sentences(words: Sequence[str], n: int, seed: int) -> list[str]:
    """Sentences of 8-30 words drawn from real text's word distribution."""
    rng = np.random.default_rng(seed)
    vocab = np.asarray(words, dtype=object)
    lengths = rng.integers(8, 31, n)
    flat = vocab[rng.integers(0, len(vocab), int(lengths.sum()))]
    out, pos = [], 0
    for length in lengths:
        out.append(" ".join(flat[pos : pos + length]))
        pos += length
    return out


def synthetic_tokens(work: Path, sentences: int, dim: int) -> Path:
    """A token-vector file (``token_match.pack``) for an article of ``sentences`` sentences of
    8-30 random unit token vectors, as an index stores them; synthetic articles of one size share
    it, but each is read from it as a separate article."""
    from trustbot import token_match

    path = work / f"synthetic-tokens-{sentences}.npy"
    if not path.is_file():
        rng = np.random.default_rng(sentences)
        vectors = [rng.normal(size=(int(rng.integers(8, 31)), dim)) for _ in range(sentences)]
        units = [(v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32) for v in vectors]
        path.write_bytes(token_match.pack(units, dim))
    return path


def synthetic_index(sentences: Sequence[str], faiss_index: Any, work: Path) -> Any:
    """A ``LoadedIndex`` over ``sentences`` in 25-sentence articles of 5 paragraphs, with stored
    token vectors (random ones: ranking reads them as it reads a real index's)."""
    from trustbot.store import LoadedIndex, StoredArticle
    from trustbot.text import Sentence

    articles, rows = [], []
    for ai, lo in enumerate(range(0, len(sentences), 25)):
        chunk = sentences[lo : lo + 25]
        body, spans = "", []
        for si, text in enumerate(chunk):
            if si:
                body += "\n\n" if si % 5 == 0 else " "
            spans.append(
                Sentence(index=si, start=len(body), end=len(body) + len(text), paragraph=si // 5)
            )
            body += text + "."
        aid = f"synthetic-{ai:06d}"
        articles.append(
            StoredArticle(
                id=aid,
                title=aid,
                sha256=content_hash(body),
                body=body,
                sentences=tuple(spans),
                speakers=(None,) * len(spans),
                tokens=synthetic_tokens(work, len(spans), faiss_index.d),
            )
        )
        rows.extend((ai, si) for si in range(len(spans)))
    lexical = LexicalIndex.build(sentences)
    return LoadedIndex(work, {"generation": "synthetic"}, articles, rows, faiss_index, lexical)


def single_query_times(index: Any, queries: np.ndarray, k: int = 10) -> list[float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        index.search(q[None, :], k)
        times.append(time.perf_counter() - started)
    return times


def recall(index: Any, truth: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    _, got = index.search(queries, k)
    return float(np.mean([len(set(g) & set(t)) / k for g, t in zip(got, truth, strict=True)]))


def scale(
    real: np.ndarray,
    words: Sequence[str],
    onnx: Any,
    sizes: Sequence[int],
    storage_at: int,
    work: Path,
) -> Row:
    import faiss

    from trustbot.answer import Answerer

    questions = dev_questions(200)
    qvec = onnx.encode(questions)
    rows: list[Row] = []
    storage_rows: list[Row] = []
    for n in sizes:
        log(f"scale {n:,}: synthetic vectors")
        matrix = synthetic_vectors(real, n, seed=n)
        exact = faiss.IndexFlatIP(matrix.shape[1])
        exact.add(matrix)
        _, truth = exact.search(qvec, 10)
        flat_t = single_query_times(exact, qvec[:100])
        log(f"scale {n:,}: vectors.build (automatic choice)")
        started = time.perf_counter()
        index, info = vectors.build(matrix)
        build_s = time.perf_counter() - started
        folder = work / f"scale-{n}"
        folder.mkdir(exist_ok=True)
        vectors.save(index, folder)
        del index
        started = time.perf_counter()
        index = vectors.load(folder, info)
        load_s = time.perf_counter() - started
        chosen_t = single_query_times(index, qvec)
        log(f"scale {n:,}: lexical index over {n:,} synthetic sentences")
        loaded = synthetic_index(synthetic_sentences(words, n, seed=n), index, work)
        answerer = Answerer(loaded, onnx)
        for q in questions[:5]:
            answerer.ask(q)
        path_t = []
        for q in questions:
            started = time.perf_counter()
            answerer.ask(q)
            path_t.append(time.perf_counter() - started)
        rows.append(
            {
                "sentences": n,
                "index": info["type"],
                "build_s": round(build_s, 1),
                "load_s": round(load_s, 3),
                "file_mib": round((folder / vectors.FILE_NAME).stat().st_size / 2**20),
                "recall_at_10": round(recall(index, truth, qvec), 4),
                "flat_p50_ms": ms(pct(flat_t, 50)),
                "flat_p95_ms": ms(pct(flat_t, 95)),
                "search_p50_ms": ms(pct(chosen_t, 50)),
                "search_p95_ms": ms(pct(chosen_t, 95)),
                "question_p50_ms": ms(pct(path_t, 50)),
                "question_p95_ms": ms(pct(path_t, 95)),
            }
        )
        log(f"  {rows[-1]}")
        if n == storage_at:
            storage_rows = storage_variants(matrix, exact, truth, qvec, folder)
        del exact, index, loaded, answerer, matrix
        shutil.rmtree(folder, ignore_errors=True)
    return {"rows": rows, "storage": storage_rows}


def storage_variants(
    matrix: np.ndarray, exact: Any, truth: np.ndarray, qvec: np.ndarray, folder: Path
) -> list[Row]:
    rows = []
    for kind, threshold in (("flat", len(matrix)), ("ivf", 0)):
        for storage in vectors.STORAGES:
            log(f"storage variant {kind}/{storage} at {len(matrix):,}")
            index, info = vectors.build(matrix, storage=storage, approx_threshold=threshold)
            vectors.save(index, folder)
            t = single_query_times(index, qvec)
            rows.append(
                {
                    "sentences": len(matrix),
                    "index": info["type"],
                    "storage": storage,
                    "file_mib": round((folder / vectors.FILE_NAME).stat().st_size / 2**20, 1),
                    "recall_at_10": round(recall(index, truth, qvec), 4),
                    "search_p50_ms": ms(pct(t, 50)),
                }
            )
    return rows


# --------------------------------------------------------------------------- incremental


class SeededEmbedder:
    """The real model's identity; random vectors while ``fake`` (base corpora), else real."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.fake = True
        self.rng = np.random.default_rng(0)

    @property
    def model_id(self) -> str:
        return self.real.model_id

    @property
    def dim(self) -> int:
        return self.real.dim

    @property
    def weights_sha256(self) -> str:
        return self.real.weights_sha256

    def encode(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        if not self.fake:
            return self.real.encode(texts, **kwargs)
        x = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def synthetic_articles(pool: Sequence[str], sentences: int, seed: int) -> list[Article]:
    rnd = random.Random(seed)
    out = []
    for i in range(max(1, sentences // 25)):
        paragraphs = [" ".join(rnd.sample(pool, 5)) for _ in range(5)]
        body = "\n\n".join(paragraphs)
        aid = f"synthetic-{seed}-{i:06d}"
        out.append(Article(id=aid, title=aid, body=body, sha256=content_hash(body)))
    return out


def incremental(work: Path, st: Any, pool: Sequence[str], sizes: Sequence[int]) -> list[Row]:
    """Add real articles one at a time to corpora of growing size, then remove old ones, through
    ``ingest``/``remove`` on a real corpus folder (what `trustbot ingest FILE` and `trustbot
    remove ID` do once the model is loaded)."""
    import dataclasses

    from trustbot.config import Settings
    from trustbot.corpus import article_files
    from trustbot.ingest import ingest, remove
    from trustbot.store import read_manifest, write_index

    adds = article_files(XQUAD / "articles")[:3]
    rows = []
    for n in sizes:
        emb = SeededEmbedder(st)
        st.encode(["warm up"])  # a running bot or `trustbot watch` has its encoder loaded
        root = work / f"incremental-{n}"
        settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", cache_dir=None)
        settings.corpus_dir.mkdir(parents=True)
        base = []
        for a in synthetic_articles(pool, n, seed=n):
            path = settings.corpus_dir / f"{a.id}.txt"
            path.write_text(a.body, encoding="utf-8")
            base.append(dataclasses.replace(a, path=path))
        log(f"incremental: base corpus of ~{n:,} sentences")
        report = write_index(settings.index_dir, base, emb)  # type: ignore[arg-type]
        emb.fake = False
        log(f"incremental: ingest {len(adds)} articles one by one, then remove 3 old ones")
        added, writes, embedded = [], [], 0
        for path in adds:
            t = time.perf_counter()
            done = ingest(settings, [path], emb)  # type: ignore[arg-type]
            added.append(time.perf_counter() - t)
            writes.append(done.index.seconds)
            embedded += done.index.sentences_embedded
            assert done.index.added, done.summary()
        segs = len(read_manifest(settings.index_dir, entries=False)["segments"])
        removed = []
        for a in (base[i * len(base) // 3] for i in range(3)):  # spread over the base
            t = time.perf_counter()
            gone = remove(settings, [a.id], emb)  # type: ignore[arg-type]
            removed.append(time.perf_counter() - t)
            assert gone.index.removed == [a.id], gone.summary()
        rows.append(
            {
                "base_sentences": report.sentences,
                "articles": len(base),
                "add_one_article_s": round(statistics.median(added), 3),
                "each_add_s": [round(t, 3) for t in added],
                "index_write_s": round(statistics.median(writes), 3),
                "remove_one_article_s": round(statistics.median(removed), 3),
                "each_remove_s": [round(t, 3) for t in removed],
                "sentences_embedded_per_add": round(embedded / len(adds), 1),
                "segments_after_adds": segs,
                "base_build_s": round(report.seconds, 1),
            }
        )
        log(f"  {rows[-1]}")
        shutil.rmtree(root, ignore_errors=True)
    return rows


# --------------------------------------------------------------------------- report


def table(rows: Sequence[Row], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(not measured)\n"
    cols = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            cells.append(f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def section(
    title: str, rows: Sequence[Row], *notes: str, columns: Sequence[str] | None = None
) -> list[str]:
    """A report section: heading, table, then notes (each a paragraph or a sub-heading)."""
    out = [f"## {title}", "", table(rows, columns)]
    for note in notes:
        out += [note, ""]
    return out


def _md_cold(result: Row) -> list[str]:
    cold = result["cold_start"]
    return [
        *section(
            "Cold one-shot `trustbot ask` (subprocess wall time, warm page cache)",
            cold["rows"],
            f"Ratio `trustbot ask` / bare `import torch`: {cold['ratio_ask_to_import_torch']}. "
            "The very first question after installing exports the ONNX query encoder once: "
            f"{cold['first_ask_with_onnx_export_s']} s.",
            "Largest top-level imports of one cold ask (`python -X importtime`):",
        ),
        table(result["import_profile"]),
    ]


def _md_build(result: Row) -> list[str]:
    return [
        *section(
            "Index build throughput (48 xquad-r articles, real model)",
            [result["build"]],
            "Sentences per second. Bare: sentence-transformers `model.encode(texts, "
            "batch_size=64)` on exactly the texts trustbot embeds (and the raw ONNX encoder on the "
            "same texts, `bare_onnx`); trustbot: `write_index` full rebuild (sentence "
            "splitting, embedding, FAISS, BM25, atomic writes) with the ONNX encoder it uses by "
            "default, and with the sentence-transformers (torch) encoder. Best of "
            f"{result['build']['rounds']} interleaved rounds each.",
            "Quality of the two encoders on `trustbot eval` (xquad-r dev, 612 questions):",
            columns=[
                "articles",
                "sentences",
                "bare_encode_per_s",
                "bare_onnx_encode_per_s",
                "trustbot_build_per_s",
                "ratio",
                "ratio_to_faster_bare",
                "build_with_torch_encoder_per_s",
                "ratio_with_torch_encoder",
            ],
        ),
        table(result["eval"]),
    ]


def _md_warm(result: Row) -> list[str]:
    return section(
        "Warm per-question latency (48 xquad-r articles)",
        [result["warm"]],
        "trustbot: `Answerer.ask` as `trustbot chat` and the bot run it (ONNX question encoding, "
        "FAISS, BM25, ranking, abstention, citations). Bare: sentence-transformers "
        "`encode([q])` + `IndexFlatIP.search(k=10)` over the same vectors. Each side runs in its "
        "own warm process, alternated; best p50/p95 over the rounds. One article: each question "
        "asked of its own article only (`ask --article`, `/story`).",
    )


def _md_memory(result: Row) -> list[str]:
    return section(
        "Peak memory of a loaded answerer (what the bot holds; 20 questions answered)",
        result["memory"],
    )


def _md_scale(result: Row) -> list[str]:
    return [
        *section(
            "Scale (synthetic vectors and sentences, real questions)",
            result["scale"]["rows"],
            "`search_*`: the automatically chosen FAISS index alone; `flat_*`: exact search, the "
            "bare baseline; `question_*`: `Answerer.ask`, the whole question path (ONNX question "
            "encoding, FAISS, BM25 over the synthetic sentences, ranking, abstention, "
            "citations). Recall@10 is against exact search.",
            "### Vector storage (float16 / int8) and its recall cost",
        ),
        table(result["scale"]["storage"]),
    ]


def _md_incremental(result: Row) -> list[str]:
    return section(
        "Adding and removing one article",
        result["incremental"],
        "`trustbot.ingest.ingest` of three real xquad-r articles one after another into a corpus "
        "folder of synthetic articles and its index (median wall time of the three; "
        "`index_write_s` is the index write inside it), then `trustbot.ingest.remove` of three "
        "of the corpus's old articles, one at a time. Below 20,000 sentences a write rebuilds "
        "the whole (small) index from stored sentences and vectors; above, it keeps the base "
        "and appends a segment, and a removal only marks the article deleted (tombstones, "
        "src/trustbot/segments.py). `base_build_s` is the one-time build of the base corpus "
        "(random vectors, so no model time).",
    )


SECTIONS_MD = [
    ("cold_start", _md_cold),
    ("build", _md_build),
    ("warm", _md_warm),
    ("memory", _md_memory),
    ("scale", _md_scale),
    ("incremental", _md_incremental),
]


def markdown(result: Row) -> str:
    m = result["machine"]
    out = [
        "# trustbot benchmark report",
        "",
        f"Run {result['started']} with `{result['command']}` ({result['seconds']:.0f} s).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, "
        f"Python {m['python']}, {m['os']}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + ".",
        f"Load average at start {m['load_average_at_start']}, at end {m['load_average_at_end']}"
        " (above 0 means other work shared the machine during the run; every ratio below is "
        "taken within this one run, with baseline and trustbot interleaved).",
        "",
        *section("Targets", result["targets"]),
    ]
    for key, render in SECTIONS_MD:
        if key in result:
            out += render(result)
    out += [
        "## What is synthetic",
        "",
        "Cold start, build throughput, warm latency and memory use the real model on real "
        "articles. Scale rows use synthetic vectors (mixtures of the real xquad-r sentence "
        "vectors plus noise) and synthetic sentences (words drawn from the xquad-r text); the "
        "questions are real (xquad-r dev) and embedded by the real model. Incremental base "
        "corpora are real xquad-r sentences shuffled into synthetic articles with random "
        "vectors; only the added articles are embedded by the model.",
        "",
    ]
    return "\n".join(out)


ALL_SECTIONS = ("build", "warm", "memory", "cold", "scale", "incremental")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--scales", help="comma-separated sentence counts for the scale section")
    parser.add_argument("--incremental", help="comma-separated base sizes for adding one article")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument(
        "--sections",
        default=",".join(ALL_SECTIONS),
        help=f"comma-separated subset of {','.join(ALL_SECTIONS)} (default: all)",
    )
    args = parser.parse_args(argv)
    wanted = set(args.sections.split(","))

    def sizes(raw: str | None, default: list[int]) -> list[int]:
        return [int(x) for x in raw.split(",")] if raw else default

    scales = sizes(args.scales, [10_000, 50_000] if args.quick else [10_000, 100_000, 1_000_000])
    inc = sizes(
        args.incremental, [1_000, 25_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    )
    repeat = 3 if args.quick else 7
    rounds = 1 if args.quick else 3
    started_at = time.time()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    result: Row = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
    }
    with tempfile.TemporaryDirectory(prefix="trustbot-bench-") as tmp:
        work = Path(tmp)
        cache = work / "cache"
        st = SentenceTransformerEmbedder()
        onnx = make_embedder(None, cache)
        if wanted & {"build", "warm", "memory", "cold"}:
            log("index build throughput")
            result["build"], dirs = build_throughput(work, st, onnx, rounds)
            xquad_index = dirs["onnx"]
            result["eval"] = eval_both(dirs, st, onnx)
        if "warm" in wanted:
            log("warm per-question latency")
            n = 100 if args.quick else 300
            result["warm"] = warm_latency(xquad_index, cache, work, n, rounds)
        if "memory" in wanted:
            log("peak memory")
            result["memory"] = peak_memory(xquad_index, cache)
        if "cold" in wanted:
            log("cold start")
            result["cold_start"] = cold_start(work, cache, xquad_index, repeat)
            result["import_profile"] = import_profile(cache, work / "seed-index")
        articles = load_corpus(XQUAD / "articles")
        if "scale" in wanted:
            real = onnx.encode(xquad_texts(articles))
            words = " ".join(a.body for a in articles).split()
            storage_at = max(s for s in scales if s <= 100_000)
            result["scale"] = scale(real, words, onnx, scales, storage_at, work)
        if "incremental" in wanted:
            result["incremental"] = incremental(work, onnx, xquad_texts(articles), inc)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = time.time() - started_at
    result["targets"] = [t.row() for t in targets(result)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(result))
    log(f"wrote {args.out / 'report.md'} and report.json")
    print(markdown(result))


def targets(result: Row) -> list[Target]:
    out = []
    if "cold_start" in result:
        ratio = result["cold_start"]["ratio_ask_to_import_torch"]
        out.append(Target("cold ask / bare import torch", ratio, 1.5))
    if "warm" in result:
        for q in ("p50", "p95"):
            name = f"warm question {q} / bare encode+flat search (xquad-r)"
            out.append(Target(name, result["warm"][f"ratio_{q}"], 1.5))
    if "build" in result:
        for key, name in (
            ("ratio", "build throughput / bare batch encode (sentence-transformers)"),
            ("ratio_to_faster_bare", "build throughput / faster of bare torch and ONNX encode"),
        ):
            out.append(Target(name, result["build"][key], 0.9, higher_is_better=True))
    if "scale" in result:
        largest = max(result["scale"]["rows"], key=lambda r: r["sentences"])
        n = f"{largest['sentences']:,}"
        out.append(Target(f"question p95 ms at {n} sentences", largest["question_p95_ms"], 50))
        out.append(Target(f"recall@10 at {n} sentences", largest["recall_at_10"], 0.98, True))
    inc = result.get("incremental", [])
    if len(inc) >= 2:
        out.append(
            Target(
                f"add one article at {inc[-1]['base_sentences']:,} / at "
                f"{inc[0]['base_sentences']:,} sentences",
                inc[-1]["add_one_article_s"] / inc[0]["add_one_article_s"],
                2,
            )
        )
        out.append(
            Target(
                f"remove one article at {inc[-1]['base_sentences']:,} / at "
                f"{inc[0]['base_sentences']:,} sentences",
                inc[-1]["remove_one_article_s"] / inc[0]["remove_one_article_s"],
                2,
            )
        )
    return out


if __name__ == "__main__":
    main()
