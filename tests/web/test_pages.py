"""What the card page asks of the service: the cards citing exactly one work, by its key, in /fact cite's order."""

from __future__ import annotations

from bot.service import CardService


def test_citing_work_is_every_card_citing_that_very_work(web_service: CardService) -> None:
    library = web_service.library
    # the web reads as a direct message does: the shared library, never a server's own collections
    shown = {card_id: d for card_id in library.cards if (d := web_service.detail(card_id)) is not None}
    assert len(shown) < len(library.cards)  # the library does hold server cards, which must not be counted
    checked = 0
    for detail in shown.values():
        for reference in detail.references:
            expected = [other for other, d in shown.items() if reference.key in {r.key for r in d.references}]
            found = web_service.citing_work(reference)
            assert sorted(found) == sorted(expected), reference
            # in the order /fact cite lists them
            cited = [h.detail.card.id for h in web_service.cite(reference.display()).hits]
            assert found == [i for i in cited if i in found]
            checked += 1
    assert checked > 40
