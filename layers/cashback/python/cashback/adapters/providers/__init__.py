"""Payout providers: adapters of the provider port (cashback.domain.payouts.provider) to
the PIX and bank providers that move the money, and a deterministic sandbox for local runs
and tests."""
