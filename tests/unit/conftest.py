"""Unit tests are pure: no network at all (moto's mock_aws needs none)."""

import aws_xray_sdk.core  # noqa: F401  # opens a UDP socket at import: do it before the guard
import pytest
from pytest_socket import disable_socket


@pytest.fixture(autouse=True)
def _no_network() -> None:
    disable_socket(allow_unix_socket=True)
