"""The outside world: DynamoDB (the ledger table), EventBridge. They speak the domain's
types and never import services or the API."""
