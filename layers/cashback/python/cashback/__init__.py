"""Cashback platform: the domain, ledger and API glue shared by every Lambda function."""
