"""The domain: money and currencies, the ledger, the rules and the risk model.

Plain Python: no boto3, no HTTP. Services drive it; adapters store what it decides."""
