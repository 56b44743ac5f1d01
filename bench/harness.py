"""What the benches that run handlers in-process share: DynamoDB Local in memory with the
table from template.yaml, and the environment the deployed functions get.

The handlers and the layer read their environment when imported: import them inside the
`local_table` block, never before it."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench.purchase import ROOT


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LocalTable:
    client: Any  # an admin client on DynamoDB Local (not the handlers' own)
    jar_version: str  # DynamoDB Local's release, for the report


@contextlib.contextmanager
def local_table(table: str) -> Iterator[LocalTable]:
    """DynamoDB Local (in memory) with `table` created as the template defines it, and the
    environment set as deployed (no X-Ray daemon here; logs at WARNING). Stopped on exit."""
    from cashback_tools.local.dynamodb_local import DynamoDBLocal, find_jar
    from cashback_tools.local.template import load_template

    template = load_template(ROOT / "template.yaml")
    progress("starting DynamoDB Local (in memory) ...")
    local = DynamoDBLocal(ROOT).start()
    try:
        os.environ.update(
            {
                **template.environment({"LedgerTable": table}),
                **local.env(),
                "TABLE_NAME": table,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        client = local.client()
        client.create_table(**template.table_create_params(table_name=table))
        client.get_waiter("table_exists").wait(TableName=table)
        yield LocalTable(client, find_jar(ROOT).parent.name.removeprefix("dynamodb_local_"))
    finally:
        local.stop()
