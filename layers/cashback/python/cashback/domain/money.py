"""Money: an integer number of minor units of the storefront's currency (12990 is 129.90).

No float touches it. MAX_AMOUNT bounds one amount: a request's, and what one order credits."""

from __future__ import annotations

# 1e11 minor units (a billion in major units) is beyond any single order we accept.
MAX_AMOUNT = 100_000_000_000
