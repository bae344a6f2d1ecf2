"""The numpy forward pass gives the vectors sentence-transformers gives (recorded once with torch: see
benchmarks/record_semantic_reference.py), for questions, facts, nonsense, empty text, accents, other scripts and
text cut at the model's 256-token limit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.index.semantic import Encoder, ModelError, bundled_model_dir

REFERENCE = Path(__file__).resolve().parents[2] / "fixtures" / "semantic_reference.json"
#: The largest difference allowed in any component: float32 rounding through 6 layers, in a different order of
#: operations than torch's (seen: at most 2.5e-7).
TOLERANCE = 1e-5


def test_vectors_match_sentence_transformers(encoder: Encoder) -> None:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    expected = np.array(reference["vectors"], dtype=np.float32)
    got = encoder.encode(reference["sentences"])
    assert got.shape == expected.shape == (22, 384)
    assert float(np.abs(got - expected).max()) < TOLERANCE
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_each_text_is_encoded_alone_as_in_a_batch(encoder: Encoder) -> None:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    sentences = reference["sentences"][:5]
    batched = encoder.encode(sentences, batch=3)
    single = np.stack([encoder.encode([s])[0] for s in sentences])
    assert float(np.abs(batched - single).max()) < TOLERANCE


def test_long_text_is_cut_at_the_model_limit(encoder: Encoder) -> None:
    assert encoder.max_tokens == 256
    assert len(encoder.tokens("word " * 1000)) == 256


def test_the_bundled_model_is_found_through_the_package_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = bundled_model_dir()
    assert folder is not None
    assert (folder / "model.safetensors").is_file()
    assert tmp_path not in folder.parents


def test_a_folder_that_is_no_model_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"config\.json"):
        Encoder(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}', encoding="utf-8")
    with pytest.raises(ModelError, match="only BERT"):
        Encoder(tmp_path)
