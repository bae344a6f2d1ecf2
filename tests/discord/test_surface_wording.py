"""The card service gives reasons in plain words; each surface adds its own hints (issue 12.2).

The command line once told its users to try "/fact help", a Discord command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main as cli_main
from bot.service import CardService
from tests.conftest import SHIPPED_CARDS

DISCORD_WORDS = ("/fact", "/cards", "/daily", "Discord")


@pytest.fixture(scope="module")
def service() -> CardService:
    return CardService.load(SHIPPED_CARDS)


def test_the_service_says_why_nothing_was_found_without_naming_a_discord_command(service: CardService) -> None:
    said = {
        "search": service.search("zzyzx quuxbar").message,
        "unknown collection": service.random(collection="nope").message,
        "unknown topic": service.random(topic="no such topic").message,
        "cite": service.cite("Freud 1900").message,
    }
    assert all(said.values()), said
    for where, message in said.items():
        assert not any(word in (message or "") for word in DISCORD_WORDS), (where, message)
    assert service.random(collection="nope").reason == "collection"
    assert service.random(topic="no such topic").reason == "topic"


@pytest.mark.usefixtures("cli_cache_outside_repo")
def test_the_command_line_points_to_its_own_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli_main(["search", "--cards", str(SHIPPED_CARDS), "zzyzx quuxbar"]) != 0
    assert cli_main(["random", "--cards", str(SHIPPED_CARDS), "--collection", "nope"]) != 0
    out = capsys.readouterr()
    printed = out.out + out.err
    assert "No card matches “zzyzx quuxbar”" in printed
    assert "There is no collection “nope”. `factdeck list` shows them." in printed
    assert not any(word in printed for word in DISCORD_WORDS), printed
