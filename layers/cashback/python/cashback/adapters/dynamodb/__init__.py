"""The ledger table: its key layout and the reads and transactions each aggregate needs."""
