"""pytest fixtures for the fake Discord. Register with ``pytest_plugins = ["tests.fakediscord.pytest_plugin"]``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .server import FakeDiscord


def pytest_configure(config: pytest.Config) -> None:
    """Register the opt-out marker."""
    config.addinivalue_line(
        "markers",
        "fakediscord_allow_unhandled: do not fail the test when the bot called a route the fake does not implement",
    )


@pytest_asyncio.fixture
async def fake_discord(request: pytest.FixtureRequest) -> AsyncIterator[FakeDiscord]:
    """A started :class:`FakeDiscord` (token ``"test-token"``, 3 s ack deadline).

    At teardown the test fails if the bot called a route the fake does not implement (a silent 404
    could make a test pass for the wrong reason); opt out with ``@pytest.mark.fakediscord_allow_unhandled``.
    """
    async with FakeDiscord() as fake:
        yield fake
    if fake.unhandled and request.node.get_closest_marker("fakediscord_allow_unhandled") is None:
        pytest.fail(
            "the bot called routes the fake Discord does not implement: "
            + ", ".join(str(u) for u in fake.unhandled)
            + " (extend tests/fakediscord/server.py, or mark the test fakediscord_allow_unhandled)",
            pytrace=False,
        )
