"""Catalog URLs in messages never show the password."""

from __future__ import annotations

import pytest

from synth.catalog.urls import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p%40ss@db.example:5433/cat", "postgresql://u@db.example:5433/cat"),
        ("postgresql://u@h/cat", "postgresql://u@h/cat"),
        ("postgresql://:secret@h/cat", "postgresql://h/cat"),
        (
            "postgresql://h/cat?password=secret&sslmode=require",
            "postgresql://h/cat?sslmode=require",
        ),
        ("host=h dbname=cat password='se cret' user=u", "host=h dbname=cat user=u"),
    ],
)
def test_urls_are_shown_without_the_password(url, shown):
    assert redact_url(url) == shown
