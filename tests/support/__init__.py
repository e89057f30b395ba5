"""What the tests share and are not tests themselves: builders, sample webhooks, databases,
live servers, Chromium and page helpers. Tests and conftest.py files import from here, never
from one another."""
