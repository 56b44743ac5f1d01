"""Storefronts and their keys: a tenant's settings (and its API Gateway usage key), and
the API keys that name a tenant and scopes, stored by hash only."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from cashback.adapters.dynamodb.table import Table, checkpoint_key, to_item
from cashback.domain.tenants import TenantSettings


class TenantsTable(Table):
    def get_tenant(self, tenant: str) -> TenantSettings | None:
        item = self._get({"pk": f"TENANT#{tenant}", "sk": "SETTINGS"})
        if item is None:
            return None
        return TenantSettings.model_validate(item["settings"])

    def put_tenant(
        self, tenant: str, settings: TenantSettings, created_at: str, usage_key: str | None = None
    ) -> bool:
        """Create a tenant; False when it already exists (nothing is changed). `usage_key`
        is the value of the tenant's API Gateway API key: its usage plan throttles it."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {
                        "pk": f"TENANT#{tenant}",
                        "sk": "SETTINGS",
                        "tenant": tenant,
                        "settings": settings.model_dump(mode="json"),
                        "created_at": created_at,
                        "usage_key": usage_key,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        self._start_checkpoint(created_at)
        return True

    def tenant_usage_key(self, tenant: str) -> str | None:
        """The tenant's API Gateway API key value (None: none was made for it)."""
        item = self._get({"pk": f"TENANT#{tenant}", "sk": "SETTINGS"})
        return item.get("usage_key") if item else None

    def _start_checkpoint(self, created_at: str) -> None:
        """The first tenant tells the lifecycle job where its work can begin: nothing can
        fall due in a bucket before the day the first storefront was created."""
        first_day = datetime.strptime(created_at[:10], "%Y-%m-%d") - timedelta(days=1)
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {**checkpoint_key("lifecycle"), "through": first_day.strftime("%Y-%m-%d")}
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def put_api_key(self, key_hash: str, record: dict[str, Any]) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item=to_item({"pk": f"APIKEY#{key_hash}", "sk": "APIKEY", **record}),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_api_key(self, key_hash: str) -> dict[str, Any] | None:
        return self._get({"pk": f"APIKEY#{key_hash}", "sk": "APIKEY"})

    def revoke_api_key(self, key_hash: str, revoked_at: str) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": f"APIKEY#{key_hash}", "sk": "APIKEY"}),
                UpdateExpression="SET revoked_at = :at",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(revoked_at)",
                ExpressionAttributeValues=to_item({":at": revoked_at}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
