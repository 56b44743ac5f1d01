"""The storefront's own ids (orders, customers, refunds, SKUs, categories, devices).

One alphabet for all: printable, no spaces, no control characters, no '#' (a key separator)."""

from __future__ import annotations

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+\-]{0,99}$"
