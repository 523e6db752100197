"""The query encoder on ONNX Runtime: the same all-MiniLM-L6-v2 weights, without torch.

A one-shot ``trustbot ask`` embeds a single short question. Importing torch and
sentence-transformers for that costs ~5 s here; onnxruntime and ``tokenizers`` cost ~0.1 s. The
ONNX graph is exported once from the very weights the index was built with (torch is needed for
that one export only) into a cache folder, addressed by the weights' sha256, and then reused by
every process. The exported graph includes mean pooling and L2 normalisation, so its output is the
sentence embedding itself; tests check it against sentence-transformers (cosine >= 0.999).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trustbot.embed import Tokens, unit_rows
from trustbot.errors import ModelError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from trustbot.embed import SentenceTransformerEmbedder

log = logging.getLogger(__name__)

# Bump when the exported graph changes (inputs, outputs, pooling, opset): old exports are then
# ignored. 2: the token vectors before pooling are a second output (``encode_with_tokens``).
EXPORT_VERSION = 2
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_file(cache_dir: Path, weights_sha256: str) -> Path:
    """Where the export of the weights with this sha256 lives in ``cache_dir``."""
    return cache_dir / "onnx" / f"{weights_sha256[:16]}.v{EXPORT_VERSION}.onnx"


def _max_seq_length(model_dir: Path) -> int:
    # sentence-transformers truncates at max_seq_length (256 for all-MiniLM-L6-v2), not at the
    # tokenizer's own limit: the query side must cut exactly where the index side did.
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        return int(config["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256


def _check_pipeline(model_dir: Path) -> None:
    # The exported graph hard-codes Transformer -> mean pooling -> Normalize; refuse anything else
    # rather than produce vectors that silently differ from the index's.
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise ModelError(f"{model_dir} is not a sentence-transformers folder: {err}") from None
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds != ["Transformer", "Pooling", "Normalize"] or not pooling.get(
        "pooling_mode_mean_tokens"
    ):
        raise ModelError(
            f"the model in {model_dir} is not Transformer + mean pooling + Normalize; "
            "it has no ONNX query encoder"
        )


def export(model_dir: Path, target: Path) -> None:
    """Export the model folder to ONNX at ``target`` (atomically). Needs torch and ``onnx``."""
    _check_pipeline(model_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as err:
        raise ModelError(
            f"exporting the query encoder needs torch and transformers: {err}"
        ) from None

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    # Eager attention traces into plain MatMul/Softmax, which exports for any batch and length.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        """The transformer plus sentence-transformers' mean pooling and normalisation; the
        token vectors before pooling as a second output."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1), hidden

    # Trace with padding in the batch so the masked path is the one recorded.
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).to(torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        import warnings

        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent branches
            torch.onnx.export(
                Pooled(model),
                (ids, mask, torch.zeros_like(ids)),
                tmp,
                input_names=list(INPUTS),
                output_names=["embedding", "tokens"],
                dynamic_axes={
                    **axes,
                    "embedding": {0: "batch"},
                    "tokens": {0: "batch", 1: "tokens"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; it is a shared cache
        os.replace(tmp, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, Exception):
            raise ModelError(f"cannot export the query encoder to ONNX: {err}") from err
        raise


_export_lock = threading.Lock()


def ensure_export(source: SentenceTransformerEmbedder, cache_dir: Path) -> Path:
    """The cached ONNX export of ``source``'s weights, exporting it first if missing."""
    target = onnx_file(cache_dir, source.weights_sha256)
    with _export_lock:
        if not target.is_file():
            log.info("exporting %s to ONNX at %s (once per model)", source.model_id, target)
            export(source.model_dir, target)
    return target


class OnnxEmbedder:
    """Embeds with an ONNX export of a sentence-transformers model; same identity as ``source``.

    ``model_id``, ``dim`` and ``weights_sha256`` are the source model's, so an index built with
    sentence-transformers is searched with this encoder (the vectors agree to cosine >= 0.999).
    """

    def __init__(self, source: SentenceTransformerEmbedder, path: Path) -> None:
        self.source = source
        self.path = path
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.source.model_id

    @property
    def dim(self) -> int:
        return self.source.dim

    @property
    def weights_sha256(self) -> str:
        return self.source.weights_sha256

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                import onnxruntime
                from tokenizers import Tokenizer

                model_dir = self.source.model_dir
                try:
                    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
                    options = onnxruntime.SessionOptions()
                    # ORT logs graph-optimisation notes at WARNING; they are not the user's.
                    options.log_severity_level = 3
                    # ORT's idle threads spin for a while after each run, and on 2 cores that
                    # spinning starves the FAISS/BM25 work that follows: p95 of encode + search
                    # drops from ~24 ms to ~8 ms without it (make bench shows the whole path).
                    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
                    session = onnxruntime.InferenceSession(
                        str(self.path), options, providers=["CPUExecutionProvider"]
                    )
                except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph kinds
                    raise ModelError(
                        f"cannot load the ONNX query encoder {self.path} ({err}); delete it and "
                        "it is exported again"
                    ) from None
                tokenizer.enable_truncation(max_length=_max_seq_length(model_dir))
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                self._tokenizer, self._session = tokenizer, session
            return self._session, self._tokenizer

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> NDArray[np.float32]:
        """Embed texts into normalised float32 vectors, one row per text."""
        return self._run(texts, batch_size, tokens=False)[0]

    def encode_with_tokens(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> tuple[NDArray[np.float32], list[Tokens]]:
        """``encode`` and each text's ``Tokens``, from the same model pass."""
        return self._run(texts, batch_size, tokens=True)

    def _run(
        self, texts: Sequence[str], batch_size: int, *, tokens: bool
    ) -> tuple[NDArray[np.float32], list[Tokens]]:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out, []
        session, tokenizer = self._load()
        outputs = ["embedding", "tokens"] if tokens else ["embedding"]
        found: dict[int, Tokens] = {}
        # Sort by length so each batch pads to similar lengths, as sentence-transformers does.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encodings = tokenizer.encode_batch([texts[i] for i in rows])
            pooled, *hidden = session.run(outputs, _feeds(encodings))
            out[rows] = pooled
            for i, e, h in zip(rows, encodings, hidden[0] if hidden else (), strict=False):
                # Padding and the special tokens ([CLS], [SEP]) left out.
                keep = np.array(e.attention_mask, bool) & ~np.array(e.special_tokens_mask, bool)
                pieces = tuple(t for t, k in zip(e.tokens, keep, strict=True) if k)
                found[i] = Tokens(pieces, unit_rows(h[keep]))
        return out, [found[i] for i in range(len(texts))] if tokens else []


def _feeds(encodings: Sequence[Any]) -> dict[str, NDArray[np.int64]]:
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
