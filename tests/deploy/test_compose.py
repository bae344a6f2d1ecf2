"""deploy/compose.yml, checked for structure (no Docker engine runs here): PostgreSQL, two bots of four shards."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.settings import database_url_problem, load_settings, parse_shards

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yml"
#: What the compose file's ${...} refer to, as deploy/.env would give them.
DOT_ENV = {"DISCORD_TOKEN": "token", "FACTDECK_DATABASE_PASSWORD": "secret"}


def _compose() -> dict[str, Any]:
    text = COMPOSE.read_text(encoding="utf-8")
    for name, value in DOT_ENV.items():
        text = re.sub(r"\$\{" + name + r":\?[^}]*\}", value, text)
    assert "${" not in text, "every variable the file uses is one deploy/.env sets, with a message when unset"
    loaded = yaml.safe_load(text)  # anchors and merge keys resolved as compose resolves them
    assert isinstance(loaded, dict)
    return loaded


def _bots(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if name.startswith("bot")}


def test_postgresql_is_healthy_and_migrated_before_the_bots_start() -> None:
    services = _compose()["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["factdeck", "migrate"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for bot in _bots(_compose()).values():
        assert bot["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert bot["healthcheck"]["test"] == ["CMD", "factdeck", "health"]
        assert bot["restart"] == "unless-stopped"


def test_two_bots_of_four_shards_cover_every_shard_once_on_one_database_and_one_cards_volume() -> None:
    compose = _compose()
    bots = _bots(compose)
    assert len(bots) == 2
    shards: list[int] = []
    data: list[str] = []
    for name, bot in bots.items():
        env = {k: str(v) for k, v in bot["environment"].items()}
        settings = load_settings(None, env=env)  # every variable is a real setting
        assert settings.shard_ids is not None
        assert len(settings.shard_ids) == 4, name
        assert settings.shard_count == 8
        shards += parse_shards(env["FACTDECK_SHARDS"])
        assert settings.database_url == "postgresql://factdeck@db:5432/factdeck"
        assert database_url_problem(env["FACTDECK_DATABASE"]) is None  # the password comes from the environment
        mounts = [v.split("  ")[0] for v in bot["volumes"]]
        assert "cards:/app/cards" in mounts
        data.append(next(m.split(":")[0] for m in mounts if m.endswith(":/data")))  # caches and unwritten views
    assert sorted(shards) == list(range(8))
    assert len(set(data)) == len(bots)  # each process keeps its own data folder
    assert set(compose["volumes"]) == {"db", "cards", *data}
    assert "secret" not in COMPOSE.read_text(encoding="utf-8")
