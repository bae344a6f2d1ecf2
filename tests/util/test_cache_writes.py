"""Cache writes are best effort: a read-only, full or impossible cache folder is one warning, never a traceback.

Tests run as root, so chmod cannot make a folder read-only: a read-only or full folder is simulated by making the
temporary-file step raise the OSError the kernel raises (EROFS, ENOSPC) and removal raise EACCES; a cache folder
under a regular file is real.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import pytest

from bot.cards.library import LoadCache, load_library
from bot.util import files


def _cache_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "cache" in r.getMessage()]


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "_warned", set(), raising=False)


def test_a_cache_folder_under_a_regular_file_is_one_warning(
    cards_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING):
        library = load_library(cards_copy, cache=LoadCache(blocker / "cards"))
    assert library.cards  # served from memory
    assert len(_cache_warnings(caplog)) == 1, _cache_warnings(caplog)


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC])
def test_a_read_only_or_full_cache_folder_is_one_warning(
    cards_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    cache_dir = tmp_path / "cache"
    warm = load_library(cards_copy, cache=LoadCache(cache_dir))  # a cache with files in it, some soon stale
    edited = cards_copy / "therapeutic-alliance.yml"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")  # its entry goes stale

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(code, os.strerror(code))

    def refuse_unlink(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(Path, "unlink", refuse_unlink)
    with caplog.at_level(logging.WARNING):
        library = load_library(cards_copy, cache=LoadCache(cache_dir))
    assert library.cards.keys() == warm.cards.keys()
    assert len(_cache_warnings(caplog)) == 1, _cache_warnings(caplog)
    assert os.strerror(code) in _cache_warnings(caplog)[0]
