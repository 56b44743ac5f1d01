"""Payouts: where cashback leaves the program as money, and to whom.

Pure domain: the payout methods and their destinations (validated and normalised), their
masked forms for replies, logs and events, and the Brazilian tax ids they carry; the status
machine and the money each step moves, the storefront's payout rules, and the provider
port with its signed callbacks."""
