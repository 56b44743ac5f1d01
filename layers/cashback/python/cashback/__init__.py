"""The shared Lambda layer: only what Lambda runs. domain/ (pure), services/ (use cases),
adapters/ (DynamoDB, EventBridge), api/ (the HTTP edge); runtime wires them together."""
