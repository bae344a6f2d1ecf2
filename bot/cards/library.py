"""Loading a folder of card files into an immutable library, fast, with a cache keyed on file content.

A cold load parses files in worker processes when there is enough to parse (YAML parsing is CPU-bound and
two cores halve it), with the garbage collector paused, since card structs never form cycles. Each file's
decoded cards and problems are cached as MessagePack under the BLAKE2 digest of its bytes, so a warm start
decodes instead of parsing, and one changed file re-parses that file only.

Files with errors are reported and skipped; on a reload (``previous`` given) a broken file keeps its last good
version live, so a curator's typo never takes cards away from readers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from bot.cards import model
from bot.cards.model import Card, CardFile, Collection
from bot.cards.validate import FileResult, Problem, cross_file, decode_text, validate_text
from bot.util.files import atomic_write_bytes

log = logging.getLogger(__name__)

SUFFIXES = (".yml", ".yaml")
#: Parse in worker processes only when there is this much uncached YAML; below it, starting them costs more.
PARALLEL_BYTES = 4 << 20
#: Changes whenever the model or the cache layout changes, so an old cache is never misread.
CACHE_VERSION = hashlib.blake2b(model.schema_text().encode() + b"cache-v1", digest_size=6).hexdigest()


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """One card file as served: where it is, the digest of its bytes, its cards and its warnings."""

    path: Path
    digest: str
    card_file: CardFile
    warnings: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class Library:
    """The cards being served. Immutable: a reload builds a new one and the service swaps it in whole."""

    root: Path
    files: tuple[LoadedFile, ...]
    problems: tuple[Problem, ...]
    broken: tuple[Path, ...]
    cards: Mapping[str, Card] = field(repr=False)
    collections: Mapping[str, Collection] = field(repr=False)
    card_collection: Mapping[str, str] = field(repr=False)
    collection_file: Mapping[str, Path] = field(repr=False)
    digest: str = ""

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems that kept a file from loading."""
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems worth fixing that did not stop a file from loading."""
        return tuple(p for p in self.problems if not p.is_error)

    def file_of(self, collection_id: str) -> LoadedFile | None:
        """The loaded file that holds a collection."""
        path = self.collection_file.get(collection_id)
        return next((f for f in self.files if f.path == path), None)

    def cards_of(self, collection_id: str) -> tuple[Card, ...]:
        """The cards of one collection, in file order (empty for an unknown id)."""
        loaded = self.file_of(collection_id)
        return loaded.card_file.cards if loaded is not None else ()


# -------------------------------------------------------------------------------------------- the cache
class _Entry(msgspec.Struct, array_like=True, gc=False):
    card_file: CardFile | None
    problems: tuple[tuple[int, int, str, str], ...]  # line, column, message, severity


class _StatRecord(msgspec.Struct, array_like=True, gc=False):
    size: int
    mtime_ns: int
    digest: str


_ENTRY = msgspec.msgpack.Decoder(_Entry)
_INDEX = msgspec.msgpack.Decoder(dict[str, _StatRecord])
_ENCODER = msgspec.msgpack.Encoder()


class LoadCache:
    """Decoded card files on disk, keyed on the digest of each file's bytes.

    A stat index (size and modification time per path) lets an unchanged file skip even being read and
    hashed; any change to either makes the loader read the file and look its digest up, so a touched but
    unchanged file still hits the cache.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory / f"v{CACHE_VERSION}"
        self._index_path = self.directory / "index.msgpack"
        self._index: dict[str, _StatRecord] | None = None

    def _load_index(self) -> dict[str, _StatRecord]:
        if self._index is None:
            try:
                self._index = _INDEX.decode(self._index_path.read_bytes())
            except (OSError, msgspec.DecodeError, msgspec.ValidationError):
                self._index = {}
        return self._index

    def known_digest(self, path: Path, stat: os.stat_result) -> str | None:
        """The digest recorded for an unchanged file, or None."""
        record = self._load_index().get(str(path))
        if record and record.size == stat.st_size and record.mtime_ns == stat.st_mtime_ns:
            return record.digest
        return None

    def get(self, digest: str) -> _Entry | None:
        """The cached result for a file's content, or None."""
        try:
            return _ENTRY.decode((self.directory / f"{digest}.msgpack").read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("ignoring an unreadable cache entry %s: %s", digest, exc)
            return None

    def put(self, digest: str, encoded_entry: bytes) -> None:
        """Store a file's result, encoded as MessagePack."""
        try:
            atomic_write_bytes(self.directory / f"{digest}.msgpack", encoded_entry, durable=False)
        except OSError as exc:
            log.warning("could not write the load cache in %s: %s", self.directory, exc)

    def save_index(self, records: Mapping[str, _StatRecord]) -> None:
        """Record the files of this load, and forget entries no file refers to any more."""
        current = self._load_index()
        merged = {**current, **records}
        merged = {path: rec for path, rec in merged.items() if Path(path).exists()}
        if merged == current:
            return
        self._index = merged
        try:
            atomic_write_bytes(self._index_path, _ENCODER.encode(merged), durable=False)
            live = {rec.digest for rec in merged.values()}
            for entry in self.directory.glob("*.msgpack"):
                if entry.name != self._index_path.name and entry.stem not in live:
                    entry.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not write the load cache index in %s: %s", self.directory, exc)


# ------------------------------------------------------------------------------------------- parsing
def file_digest(raw: bytes) -> str:
    """The content key of a card file."""
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def _result_entry(result: FileResult) -> _Entry:
    problems = tuple((p.line, p.column, p.message, p.severity) for p in result.problems)
    return _Entry(result.card_file if result.ok else None, problems)


def parse_bytes(raw: bytes, path: str) -> FileResult:
    """Validate one card file's bytes."""
    text, problems = decode_text(raw, path)
    if text is None:
        return FileResult(path, None, problems)
    return validate_text(text, path)


#: Called with a file's digest and cards where that file was parsed (a worker process, when there are several): a
#: layer above derives what it needs from the cards while they are at hand (the citation index caches their
#: references). Must pickle by reference, i.e. be a module-level function or a ``functools.partial`` of one.
AfterParse = Callable[[str, CardFile], None]


def _parse_in_worker(path: str, after_parse: AfterParse | None = None) -> tuple[str, bytes]:
    raw = Path(path).read_bytes()
    with _gc_paused():
        entry = _result_entry(parse_bytes(raw, path))
        digest = file_digest(raw)
        if after_parse is not None and entry.card_file is not None:
            after_parse(digest, entry.card_file)
    return digest, _ENCODER.encode(entry)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def discover(root: Path) -> list[Path]:
    """The card files under a folder, in a stable order; hidden folders (the cache among them) are skipped."""
    if root.is_file():
        return [root]
    found = [
        path
        for path in root.rglob("*")
        if path.suffix in SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    ]
    return sorted(found)


def _pool(workers: int) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bot.cards.library"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _parse_many(
    paths: list[Path], sizes: dict[Path, int], workers: int | None, after_parse: AfterParse | None = None
) -> Iterator[tuple[Path, str, bytes]]:
    """(path, digest, encoded entry) for each file, in worker processes when that pays."""
    parse = _parse_in_worker if after_parse is None else functools.partial(_parse_in_worker, after_parse=after_parse)
    total = sum(sizes.values())
    count = workers if workers is not None else min(os.cpu_count() or 1, len(paths))
    done: set[Path] = set()
    if count > 1 and len(paths) > 1 and total >= PARALLEL_BYTES:
        largest_first = sorted(paths, key=lambda p: -sizes[p])
        try:
            with _pool(count) as pool:
                results = pool.map(parse, map(str, largest_first))
                for path, (digest, encoded) in zip(largest_first, results, strict=True):
                    done.add(path)
                    yield path, digest, encoded
        except (BrokenProcessPool, OSError) as exc:  # no worker processes here: parse in this one
            log.warning("parsing in worker processes failed (%s); parsing in this process instead", exc)
    for path in paths:
        if path not in done:
            digest, encoded = parse(str(path))
            yield path, digest, encoded


def _problems_of(path: Path, entry: _Entry) -> list[Problem]:
    return [Problem(str(path), line, col, msg, sev) for line, col, msg, sev in entry.problems]  # type: ignore[arg-type]


def load_library(
    root: Path,
    *,
    cache: LoadCache | None = None,
    previous: Library | None = None,
    workers: int | None = None,
    paths: Iterable[Path] | None = None,
    after_parse: AfterParse | None = None,
) -> Library:
    """Load every card file under ``root`` (or just ``paths``) into a new library.

    Files with errors are skipped and their problems reported. With ``previous``, a file that was good before
    and is broken now keeps its previous version live, and the problems say so. ``after_parse`` is called for
    each good file this load parses (not for those read back from the cache), in the process that parsed it.
    """
    root = root.resolve()
    files = sorted(p.resolve() for p in paths) if paths is not None else discover(root)
    entries: dict[Path, tuple[str, _Entry]] = {}
    to_parse: list[Path] = []
    sizes: dict[Path, int] = {}
    stats: dict[str, _StatRecord] = {}
    with _gc_paused():
        for path in files:
            try:
                stat = path.stat()
            except OSError as exc:
                log.warning("cannot read %s: %s", path, exc)
                continue
            digest = cache.known_digest(path, stat) if cache else None
            if digest is None and cache is not None:
                digest = file_digest(path.read_bytes())
            entry = cache.get(digest) if cache and digest else None
            if entry is None:
                to_parse.append(path)
                sizes[path] = stat.st_size
            else:
                entries[path] = (digest, entry)  # type: ignore[assignment]
                stats[str(path)] = _StatRecord(stat.st_size, stat.st_mtime_ns, digest)  # type: ignore[arg-type]
        for path, digest, encoded in _parse_many(to_parse, sizes, workers, after_parse):
            entries[path] = (digest, _ENTRY.decode(encoded))
            if cache is not None:
                cache.put(digest, encoded)
                stat = path.stat()
                stats[str(path)] = _StatRecord(stat.st_size, stat.st_mtime_ns, digest)
        if cache is not None and stats:
            cache.save_index(stats)
        return _assemble(root, files, entries, previous, cache)


def _read_text(path: Path) -> Callable[[], str]:
    return lambda: path.read_text(encoding="utf-8", errors="replace")


def _assemble(
    root: Path,
    files: list[Path],
    entries: dict[Path, tuple[str, _Entry]],
    previous: Library | None,
    cache: LoadCache | None = None,
) -> Library:
    problems: list[Problem] = []
    good: list[LoadedFile] = []
    broken: list[Path] = []
    for path in files:
        if path not in entries:
            continue
        digest, entry = entries[path]
        found = _problems_of(path, entry)
        problems.extend(found)
        if entry.card_file is None:
            broken.append(path)
        else:
            good.append(LoadedFile(path, digest, entry.card_file, tuple(p for p in found if not p.is_error)))
    clashes = _cross_file_cached(good, cache)
    for path_text, found in clashes.items():
        problems.extend(found)
        if any(p.is_error for p in found):
            broken.append(Path(path_text))
    served = [f for f in good if f.path not in broken]
    if previous is not None:
        old = {f.path: f for f in previous.files}
        for path in broken:
            if path in old:
                served.append(old[path])
                message = "this file has errors, so its last good version stays live until they are fixed"
                problems.append(Problem(str(path), 1, 1, message, "warning"))
    served.sort(key=lambda f: f.path)
    return _index(root, served, problems, broken)


_CLASHES = msgspec.msgpack.Decoder(dict[str, list[tuple[str, int, int, str, str]]])


def _cross_file_cached(good: list[LoadedFile], cache: LoadCache | None) -> dict[str, list[Problem]]:
    """Problems between files; for an unchanged set of files, read back from the cache instead of recomputed."""
    if cache is None:
        return cross_file((str(f.path), f.card_file, _read_text(f.path)) for f in good)
    key = hashlib.blake2b(digest_size=16)
    for loaded in good:
        key.update(f"{loaded.path}\0{loaded.digest}\0".encode())
    entry = cache.directory / f"cross-{key.hexdigest()}.bin"
    try:
        raw = _CLASHES.decode(entry.read_bytes())
        return {path: [Problem(*p) for p in found] for path, found in raw.items()}  # type: ignore[arg-type]
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        pass
    clashes = cross_file((str(f.path), f.card_file, _read_text(f.path)) for f in good)
    encoded = {
        path: [(p.path, p.line, p.column, p.message, p.severity) for p in found] for path, found in clashes.items()
    }
    for stale in cache.directory.glob("cross-*.bin"):
        stale.unlink(missing_ok=True)
    try:
        atomic_write_bytes(entry, _ENCODER.encode(encoded), durable=False)
    except OSError as exc:
        log.warning("could not write the load cache in %s: %s", cache.directory, exc)
    return clashes


def _index(root: Path, served: list[LoadedFile], problems: list[Problem], broken: list[Path]) -> Library:
    cards: dict[str, Card] = {}
    collections: dict[str, Collection] = {}
    card_collection: dict[str, str] = {}
    collection_file: dict[str, Path] = {}
    for loaded in served:
        info = loaded.card_file.collection
        if info.id in collections:  # a last good version beside its broken file's copy: the first by path wins
            continue
        collections[info.id] = info
        collection_file[info.id] = loaded.path
        for card in loaded.card_file.cards:
            if card.id not in cards:
                cards[card.id] = card
                card_collection[card.id] = info.id
    digest = hashlib.blake2b(CACHE_VERSION.encode(), digest_size=16)
    for loaded in served:
        digest.update(f"{loaded.path.relative_to(root) if loaded.path.is_relative_to(root) else loaded.path}".encode())
        digest.update(loaded.digest.encode())
    return Library(
        root=root,
        files=tuple(served),
        problems=tuple(sorted(set(problems), key=lambda p: (p.path, p.line, p.column, p.message))),
        broken=tuple(sorted(set(broken))),
        cards=cards,
        collections=collections,
        card_collection=card_collection,
        collection_file=collection_file,
        digest=digest.hexdigest(),
    )


def replace_file(
    library: Library, path: Path, card_file: CardFile, raw: bytes, warnings: Iterable[Problem] | None = None
) -> Library:
    """A new library with one file's content replaced (after a moderator's write), without re-reading others.

    ``warnings`` are the file's warnings when the caller has just validated ``raw`` (the writer always has);
    without them the file is validated again to find them.
    """
    path = path.resolve()
    if warnings is None:
        warnings = (p for p in validate_text(raw.decode("utf-8"), str(path)).problems if not p.is_error)
    kept = tuple(p if p.path == str(path) else dataclasses.replace(p, path=str(path)) for p in warnings)
    loaded = LoadedFile(path, file_digest(raw), card_file, kept)
    served = [f for f in library.files if f.path != path] + [loaded]
    served.sort(key=lambda f: f.path)
    problems = [p for p in library.problems if p.path != str(path)] + list(kept)
    return _index(library.root, served, problems, [b for b in library.broken if b != path])
