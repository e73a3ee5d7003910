"""Fixtures for the tests against a running `spot demo` (scripts/python-sdk-tests.sh starts one
and sets SPOT_URL, SPOT_EMAIL, SPOT_PASSWORD)."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from spot_sdk import Client


@dataclass(frozen=True)
class Demo:
    url: str
    email: str
    password: str

    def login(self) -> Client:
        return Client(self.url, email=self.email, password=self.password)


@pytest.fixture(scope="session")
def demo() -> Demo:
    url = os.environ.get("SPOT_URL")
    if not url:
        pytest.fail("no SPOT_URL: run scripts/python-sdk-tests.sh, which starts `spot demo`")
    return Demo(url, os.environ["SPOT_EMAIL"], os.environ["SPOT_PASSWORD"])


@pytest.fixture
def spot(demo: Demo) -> Iterator[Client]:
    """The demo tenant's owner, logged in."""
    with demo.login() as client:
        yield client


def expired_copy(access_token: str) -> str:
    """The token with its `exp` moved an hour into the past: what a client holds once its token
    has lapsed. The signature no longer matches, so the server refuses it (as it would a lapsed
    one: the server's clock cannot be moved from here, and its token lifetime is fixed)."""
    header, payload, signature = access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(time.time()) - 3600
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"
