"""Unit tests are pure: no network at all (moto's mock_aws needs none)."""

import os

import aws_xray_sdk.core  # noqa: F401  # opens a UDP socket at import: do it before the guard
import pytest
from pytest_socket import disable_socket

# As the local stack runs the handlers: metrics off (the tests that read them turn them on)
# and the template's namespace, whichever test file runs first or alone.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Cashback")


@pytest.fixture(autouse=True)
def _no_network() -> None:
    disable_socket(allow_unix_socket=True)
