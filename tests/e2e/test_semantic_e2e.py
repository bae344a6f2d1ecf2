"""/fact search with a question in plain words, through the real discord.py and the fake Discord, with search by
meaning on (``semantic: on`` in the config, the bundled model, a small library)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import StartFactory
from tests.service.test_semantic import write_cards

pytestmark = [pytest.mark.e2e, pytest.mark.semantic]


@pytest.mark.usefixtures("encoder")  # the bot shares the model this test process has loaded
async def test_a_question_gets_the_card_that_answers_it_closest_in_meaning(
    launch: StartFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with launch(cards=write_cards(tmp_path / "cards"), semantic="on") as r:
        meaning = r.bot.service.meaning
        assert meaning is not None
        assert await asyncio.to_thread(meaning.wait, 120)
        asked_on: list[threading.Thread] = []
        embed_query = meaning.query_vector

        def query_vector(text: str) -> object:
            asked_on.append(threading.current_thread())
            return embed_query(text)

        monkeypatch.setattr(meaning, "query_vector", query_vector)
        msg = await (await r.slash("search", query="what are banknotes made of?")).wait_message()
        assert "Closest in meaning" in msg.embed["description"]
        assert msg.embed["fields"][0]["name"].endswith("fact-01")
        assert "cotton and linen" in msg.embed["fields"][0]["value"]
        # words that every card shares keep today's ranking, with no such note
        msg = await (await r.slash("search", query="octopuses hearts")).wait_message()
        assert "Closest in meaning" not in (msg.embed.get("description") or "")
        assert msg.embed["fields"][0]["name"].endswith("fact-06")
        # nonsense finds nothing
        msg = await (await r.slash("search", query="asdkjh qwpoeiru zxmcnv")).wait_message()
        assert msg.ephemeral
        assert "No card matches" in msg.text
        # a question typed into the card option is completed by meaning
        choices = await r.complete("show", "card", card="which animal kills the most people")
        assert choices[0]["value"] == "fact-02"
        r.fake.assert_no_errors()
        # the model ran for each search, never on the event loop (a search by words alone may run there)
        assert len(asked_on) >= 3
        assert threading.current_thread() not in asked_on
    # stopping the bot stops the embedding thread and lets go of the model
    assert meaning.encoder is None
    assert meaning.index() is None
