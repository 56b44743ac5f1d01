"""Programs: the immutable rule-set versions a storefront publishes, and the sharded
budgets of its campaigns."""

from __future__ import annotations

from typing import Any

from cashback.adapters.dynamodb.table import Table, budget_key, put_new, to_item
from cashback.domain.changes import AccountMoved


class ProgramsTable(Table):
    def put_rule_version(self, tenant: str, version: int, record: dict[str, Any]) -> bool:
        """Publish an immutable version; False if that number was taken meanwhile."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {
                        "pk": f"RULES#{tenant}",
                        "sk": f"V#{version:06d}",
                        "version": version,
                        **record,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def rule_versions(self, tenant: str) -> list[dict[str, Any]]:
        """Every published version's number, dates and publisher (not the bodies)."""
        return list(
            self._query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
                ExpressionAttributeValues=to_item({":pk": f"RULES#{tenant}", ":v": "V#"}),
                ProjectionExpression="version, effective_from, published_at, published_by",
                ConsistentRead=True,
            )
        )

    def rule_version(self, tenant: str, version: int) -> dict[str, Any] | None:
        return self._get({"pk": f"RULES#{tenant}", "sk": f"V#{version:06d}"})

    def open_budget(self, tenant: str, campaign: str, allowances: tuple[int, ...]) -> bool:
        """Create a campaign's budget shards; False if they exist already."""
        items = [
            put_new(
                {
                    **budget_key(tenant, campaign, shard),
                    "shard": shard,
                    "remaining": allowance,
                    "allowance": allowance,
                }
            )
            for shard, allowance in enumerate(allowances)
        ]
        try:
            for start in range(0, len(items), 25):  # a transaction holds at most 100
                self._transact(items[start : start + 25], first_is_idempotency_record=False)
        except AccountMoved:
            return False
        return True

    def budget_shards(self, tenant: str, campaign: str) -> list[dict[str, int]]:
        """Each shard of a campaign's budget: shard, remaining, allowance; in shard order."""
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": f"BUDGET#{tenant}#{campaign}"}),
            ConsistentRead=True,
        )
        return sorted(
            ({k: item[k] for k in ("shard", "remaining", "allowance")} for item in items),
            key=lambda shard: shard["shard"],
        )

    def budget_remaining(self, tenant: str, campaign: str) -> list[int]:
        """What each shard of a campaign's budget has left, shard by shard."""
        return [shard["remaining"] for shard in self.budget_shards(tenant, campaign)]

    def resize_budget_shard(
        self, tenant: str, campaign: str, shard: int, delta: int, remaining_before: int
    ) -> bool:
        """Add `delta` (negative: take away) to one shard's allowance and remaining, if no
        purchase took from it since it was read; False when one did (read and retry)."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item(budget_key(tenant, campaign, shard)),
                UpdateExpression="SET remaining = remaining + :d, allowance = allowance + :d",
                ConditionExpression="remaining = :before",
                ExpressionAttributeValues=to_item({":d": delta, ":before": remaining_before}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
