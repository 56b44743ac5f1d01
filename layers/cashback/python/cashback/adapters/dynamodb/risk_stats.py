"""A storefront's risk statistics and risk settings in the table: daily histogram shards
(ADD on flat numeric attributes) and the settings item's risk fields.

    RISKSTATS#<t>   <day>#<shard:02>#<model_version>   one shard of a day's histogram

Purchases pick a shard by order id, so concurrent purchases rarely touch the same item,
and never under a condition: ADD commutes, no write can fail another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cashback.adapters.dynamodb.table import Table, from_item, to_item
from cashback.domain.tenants import RiskThresholds


def stats_pk(tenant: str) -> str:
    return f"RISKSTATS#{tenant}"


def _settings_key(tenant: str) -> dict[str, Any]:
    return to_item({"pk": f"TENANT#{tenant}", "sk": "SETTINGS"})


class RiskStatsTable(Table):
    def add_risk_stats(
        self, tenant: str, day: str, shard: int, model: str, counts: Mapping[str, int]
    ) -> None:
        names = {f"#a{i}": name for i, name in enumerate(counts)}
        values = {f":v{i}": value for i, value in enumerate(counts.values())}
        adds = ", ".join(f"#a{i} :v{i}" for i in range(len(counts)))
        self.client.update_item(
            TableName=self.table_name,
            Key=to_item({"pk": stats_pk(tenant), "sk": f"{day}#{shard:02d}#{model}"}),
            UpdateExpression=f"SET #model = :model, #day = :day ADD {adds}",
            ExpressionAttributeNames={**names, "#model": "model", "#day": "day"},
            ExpressionAttributeValues=to_item({**values, ":model": model, ":day": day}),
        )

    def risk_stats(self, tenant: str, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Every stats item of the days first_day..last_day (all models)."""
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": to_item(
                {":pk": stats_pk(tenant), ":first": first_day, ":last": f"{last_day}#~"}
            ),
        }
        while True:
            page = self.client.query(**query)
            items += [from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim_thresholds(self, tenant: str, now: str, stale_before: str) -> bool:
        """Take the turn to recompute the tenant's thresholds: True for the one caller
        that finds them computed before `stale_before` (or never)."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_settings_key(tenant),
                UpdateExpression="SET thresholds_at = :now",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(thresholds_at) OR thresholds_at < :stale)",
                ExpressionAttributeValues=to_item({":now": now, ":stale": stale_before}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def set_thresholds(
        self, tenant: str, thresholds: RiskThresholds, review_share: str, block_share: str
    ) -> bool:
        """Store recomputed thresholds, unless the shares they were computed at changed
        meanwhile (a PUT of new settings wins; settings stored before shares existed get
        the defaults they were read with)."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_settings_key(tenant),
                UpdateExpression="SET #s.thresholds = :t, #s.review_share = :r, "
                "#s.block_share = :b",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(#s.review_share) OR #s.review_share = :r) AND "
                "(attribute_not_exists(#s.block_share) OR #s.block_share = :b)",
                ExpressionAttributeNames={"#s": "settings"},
                ExpressionAttributeValues=to_item(
                    {":t": thresholds.model_dump(), ":r": review_share, ":b": block_share}
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def put_risk_settings(
        self,
        tenant: str,
        mode: str,
        review_share: str,
        block_share: str,
        thresholds: RiskThresholds,
    ) -> None:
        """The storefront's risk mode and shares, with the thresholds they give."""
        self.client.update_item(
            TableName=self.table_name,
            Key=_settings_key(tenant),
            UpdateExpression="SET #s.risk_mode = :m, #s.review_share = :r, "
            "#s.block_share = :b, #s.thresholds = :t, thresholds_at = :at",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#s": "settings"},
            ExpressionAttributeValues=to_item(
                {
                    ":m": mode,
                    ":r": review_share,
                    ":b": block_share,
                    ":t": thresholds.model_dump(),
                    ":at": thresholds.computed_at,
                }
            ),
        )
