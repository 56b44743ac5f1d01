"""`cashback`: the local stack, keys, tenants, ledger audits and reports from the command line.

Commands that touch a table take --table (default $TABLE_NAME) and --endpoint-url
(default $AWS_ENDPOINT_URL_DYNAMODB, else AWS itself), so they work against the local
stack and a deployed one alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias

from cashback.domain.clock import to_iso
from cashback.services.keys import SCOPES

# New storefronts start in shadow mode (scored, never held) until the model is trusted.
DEFAULT_RISK_MODE = "shadow"
LOCAL_REGION = "us-east-1"  # what the local stack's DynamoDB is created in (any would do)


def _store(args: argparse.Namespace) -> Any:
    import boto3
    import boto3.session

    from cashback.adapters.dynamodb.store import Store

    table = args.table or os.environ.get("TABLE_NAME")
    if not table:
        sys.exit("say which table: --table NAME or TABLE_NAME in the environment")
    if not args.endpoint_url:
        return Store(table, boto3.client("dynamodb"))
    # A local endpoint (the local stack's DynamoDB) needs no AWS set-up: whatever region and
    # credentials are configured are used, and a default region and dummy keys otherwise.
    session = boto3.session.Session()
    options: dict[str, Any] = {"region_name": session.region_name or LOCAL_REGION}
    if session.get_credentials() is None:
        options.update(aws_access_key_id="local", aws_secret_access_key="local")
    return Store(table, session.client("dynamodb", endpoint_url=args.endpoint_url, **options))


def _now() -> str:
    return to_iso(datetime.now(UTC))


def cmd_serve(args: argparse.Namespace) -> int:
    from cashback_tools.local.dynamodb_local import StoreError
    from cashback_tools.local.stack import LocalStack

    stack = LocalStack(
        Path(args.template) if args.template else None,
        tenants=tuple(args.tenant or ["demo"]),
        currency=args.currency,
        backdate_days=args.backdate_days,
        store=args.store,
        port=args.port,
        quiet=args.quiet,
        risk_mode=args.risk_mode,
        time_travel=args.time_travel,
    )
    try:
        stack.start()
    except StoreError as error:
        print(f"cashback serve: {error}", file=sys.stderr)
        return 2
    try:
        if args.keys_file:
            path = Path(args.keys_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stack.keys, indent=2) + "\n")
            path.chmod(0o600)
        print(f"API          {stack.url}", flush=True)
        print(f"DynamoDB     {stack.endpoint_url}  table cashback-local", flush=True)
        print(f"Keys         {args.keys_file or '(not written: pass --keys-file)'}", flush=True)
        print(f"Console      {stack.url}/console/  (sign in with a review key)", flush=True)
        print(f"Invoke API   {stack.url}/2015-03-31/functions/<LogicalId>/invocations", flush=True)
        print("Ready. Ctrl-C stops the stack.", flush=True)
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    finally:
        stack.stop()
    return 0


def cmd_tenants_create(args: argparse.Namespace) -> int:
    from cashback.domain.tenants import TenantSettings

    settings = TenantSettings(
        currency=args.currency,
        cashback_rate=Decimal(args.rate),
        return_window_days=args.return_window_days,
        expiry_days=args.expiry_days,
        backdate_days=args.backdate_days,
        risk_mode=args.risk_mode,
    )
    store = _store(args)
    if store.get_tenant(args.tenant) is not None:
        print(f"tenant {args.tenant} already exists; nothing changed", file=sys.stderr)
        return 1
    usage_key, undo = _usage_plan_key(args)
    if not store.put_tenant(args.tenant, settings, _now(), usage_key=usage_key):
        undo()
        print(f"tenant {args.tenant} already exists; nothing changed", file=sys.stderr)
        return 1
    print(json.dumps({"tenant": args.tenant, **settings.model_dump(mode="json")}))
    return 0


def _usage_plan_key(args: argparse.Namespace) -> tuple[str, Any]:
    """The tenant's API Gateway API key on the tenants' usage plan (its own rate and burst),
    and how to take it back. Against the local stack (--endpoint-url without a plan) a
    made-up value: the local gateway throttles any key under the template's plan."""
    from cashback.services.keys import new_usage_key

    if not args.usage_plan_id:
        if args.endpoint_url:
            return new_usage_key(), lambda: None
        sys.exit(
            "say which usage plan the tenant joins: --usage-plan-id ID (the stack's "
            "TenantUsagePlanId output) or $USAGE_PLAN_ID"
        )
    import boto3

    gateway = boto3.client("apigateway")
    key = gateway.create_api_key(
        name=f"cashback-{args.tenant}",
        enabled=True,
        description=f"usage plan key of cashback tenant {args.tenant}",
    )
    try:
        gateway.create_usage_plan_key(
            usagePlanId=args.usage_plan_id, keyId=key["id"], keyType="API_KEY"
        )
    except Exception:
        gateway.delete_api_key(apiKey=key["id"])
        raise
    return key["value"], lambda: gateway.delete_api_key(apiKey=key["id"])


def cmd_keys_create(args: argparse.Namespace) -> int:
    from cashback.domain.errors import NotFound
    from cashback.services import keys

    try:
        key = keys.create_key(_store(args), args.tenant, args.scope, _now())
    except (NotFound, ValueError) as error:
        print(f"cashback keys create: {error}", file=sys.stderr)
        return 1
    print(key)
    print("This key is shown once; only its SHA-256 hash is stored.", file=sys.stderr)
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from cashback.services import keys

    if not _store(args).revoke_api_key(keys.key_hash(args.key), _now()):
        print("no such key, or already revoked", file=sys.stderr)
        return 1
    print("revoked")
    return 0


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from cashback_tools.audit import verify

    report = verify(_store(args), args.tenant, args.customer)
    for problem in report.problems:
        print(problem)
    print(
        f"{report.customers} customer(s), {report.entries} entries checked: "
        f"{'intact' if report.ok else f'{len(report.problems)} problem(s)'}"
    )
    return 0 if report.ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from cashback_tools.local.demo import run

    return run(store=args.store, serve=args.serve, plots=args.plots)


def _table_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", help="DynamoDB table (default: $TABLE_NAME)")
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"),
        help="DynamoDB endpoint, e.g. the local stack's",
    )


def _risk_mode_option(parser: argparse.ArgumentParser) -> None:
    # One default for every new storefront, local or deployed: shadow, the safe start.
    parser.add_argument(
        "--risk-mode",
        choices=["enforce", "shadow", "off"],
        default=DEFAULT_RISK_MODE,
        help=f"{DEFAULT_RISK_MODE} (default): score and record, never hold, "
        "until you trust the model; enforce: hold and block; off: no "
        "scoring",
    )


# The `cashback` command's subcommands (argparse's _SubParsersAction).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="cashback", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    _serve_command(commands)
    _tenants_commands(commands)
    _keys_commands(commands)
    _ledger_commands(commands)

    from cashback_tools.model_cli import register

    register(commands)
    from cashback_tools.report_cli import register as register_reports

    register_reports(commands)
    _demo_command(commands)
    return root


def _serve_command(commands: Commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the local stack on 127.0.0.1",
        description="Run the local stack on 127.0.0.1: the "
        "template's API, Lambda's Invoke API and "
        "DynamoDB Local.",
    )
    serve.add_argument(
        "--port", type=int, default=3000, help="the API's port (default 3000; 0 picks a free port)"
    )
    serve.add_argument("--tenant", action="append", help="create this tenant (repeatable)")
    serve.add_argument("--currency", default="BRL")
    serve.add_argument("--keys-file", help="write the tenants' fresh API keys here (JSON)")
    serve.add_argument(
        "--backdate-days", type=int, default=7, help="how far in the past occurred_at may be"
    )
    serve.add_argument(
        "--store",
        choices=["dynamodb-local", "memory"],
        default="dynamodb-local",
        help="memory: moto's server, no Java needed",
    )
    serve.add_argument("--template", help="template.yaml (default: found from here up)")
    serve.add_argument("--quiet", action="store_true", help="no request log")
    _risk_mode_option(serve)
    serve.add_argument(
        "--time-travel",
        action="store_true",
        help="let the lifecycle job run as of scheduled times ahead of the "
        "clock (replaying history, as the demo does); a deployment never "
        "allows it",
    )
    serve.set_defaults(run=cmd_serve)


def _tenants_commands(commands: Commands) -> None:
    tenants = commands.add_parser(
        "tenants",
        help="create storefronts (tenants) in a table",
        description="Storefronts (tenants) and their settings.",
    ).add_subparsers(dest="action", required=True)
    create_tenant = tenants.add_parser("create", help="create a storefront")
    create_tenant.add_argument("--tenant", required=True)
    create_tenant.add_argument("--currency", required=True)
    create_tenant.add_argument("--rate", default="0.05", help="flat cashback rate")
    create_tenant.add_argument("--return-window-days", type=int, default=30)
    create_tenant.add_argument("--expiry-days", type=int, default=180)
    create_tenant.add_argument("--backdate-days", type=int, default=7)
    _risk_mode_option(create_tenant)
    create_tenant.add_argument(
        "--usage-plan-id",
        default=os.environ.get("USAGE_PLAN_ID"),
        help="API Gateway usage plan for the tenant's own API key "
        "(the stack's TenantUsagePlanId output; "
        "default $USAGE_PLAN_ID)",
    )
    _table_options(create_tenant)
    create_tenant.set_defaults(run=cmd_tenants_create)


def _keys_commands(commands: Commands) -> None:
    keys = commands.add_parser(
        "keys",
        help="make and revoke API keys",
        description="API keys: shown once, stored as SHA-256 hashes with tenant and scopes.",
    ).add_subparsers(dest="action", required=True)
    create_key = keys.add_parser("create", help="make an API key (printed once)")
    create_key.add_argument("--tenant", required=True)
    create_key.add_argument("--scope", action="append", required=True, choices=SCOPES)
    _table_options(create_key)
    create_key.set_defaults(run=cmd_keys_create)
    revoke_key = keys.add_parser("revoke", help="revoke an API key")
    revoke_key.add_argument("--key", required=True)
    _table_options(revoke_key)
    revoke_key.set_defaults(run=cmd_keys_revoke)


def _ledger_commands(commands: Commands) -> None:
    ledger = commands.add_parser(
        "ledger",
        help="audit the ledger's hash chains and balances",
        description="Audit the ledger: hash chains, sequences, balances, conservation.",
    ).add_subparsers(dest="action", required=True)
    verify = ledger.add_parser("verify", help="prove no entry was edited or removed")
    verify.add_argument("--tenant", required=True)
    verify.add_argument("--customer")
    _table_options(verify)
    verify.set_defaults(run=cmd_ledger_verify)


def _demo_command(commands: Commands) -> None:
    demo = commands.add_parser("demo", help="a storefront month through the local stack")
    demo.add_argument("--store", choices=["dynamodb-local", "memory"], default="dynamodb-local")
    demo.add_argument(
        "--serve",
        action="store_true",
        help="then keep the stack up: work the demo's queue in the console at /console/",
    )
    demo.add_argument(
        "--plots", type=Path, help="also draw the demo's reports as PNGs in this folder"
    )
    demo.set_defaults(run=cmd_demo)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
