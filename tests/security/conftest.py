"""Security tests reuse the page tests' AppTest factory."""

from tests.pages.conftest import app  # noqa: F401 - a fixture, found by name
