"""End-to-end tests: the bot as in production, against the fake Discord."""
