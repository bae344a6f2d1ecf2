"""/fact cite an author who is named before a numbered reference ("Bordin (5) identified..."), through the real
discord.py and the fake Discord, over the shipped cards."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Running

pytestmark = pytest.mark.e2e


async def test_cite_an_author_finds_the_card_that_names_them_before_a_number(running: Running) -> None:
    r = running
    msg = await (await r.slash("cite", reference="Bordin")).wait_message()
    text = msg.text + " " + " ".join(f["name"] + " " + f["value"] for f in msg.embed.get("fields", []))
    assert "therapeutic-alliance-002" in text  # "Bordin (5) identified three components..."
    assert "Bordin (5)" in text
    assert "Bordin, 1979" in text  # the author-year citations are still found
    # a year still narrows to the author-year works
    msg = await (await r.slash("cite", reference="Bordin 1979")).wait_message()
    text = msg.text + " " + " ".join(f["name"] + " " + f["value"] for f in msg.embed.get("fields", []))
    assert "therapeutic-alliance-002" not in text
    # the card itself still shows the number it cites, not "[5]; Bordin"
    shown = await (await r.slash("show", card="therapeutic-alliance-002")).wait_message()
    assert "Bordin" not in str(shown.embed.get("fields", "")) + str(shown.embed.get("footer", ""))
    r.fake.assert_no_errors()
