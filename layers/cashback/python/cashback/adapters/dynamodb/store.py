"""The ledger table as one object: every aggregate's adapter over one client, so the
composition root builds one and hands it to each service as the port that service needs."""

from __future__ import annotations

from cashback.adapters.dynamodb.accounts import AccountsTable
from cashback.adapters.dynamodb.due import DueTable
from cashback.adapters.dynamodb.lists import ListsTable
from cashback.adapters.dynamodb.orders import OrdersTable
from cashback.adapters.dynamodb.payouts import PayoutsTable
from cashback.adapters.dynamodb.programs import ProgramsTable
from cashback.adapters.dynamodb.redemptions import RedemptionsTable
from cashback.adapters.dynamodb.reports import ReportsTable
from cashback.adapters.dynamodb.reviews import ReviewsTable
from cashback.adapters.dynamodb.risk_stats import RiskStatsTable
from cashback.adapters.dynamodb.tenants import TenantsTable


class Store(
    TenantsTable,
    AccountsTable,
    OrdersTable,
    RedemptionsTable,
    PayoutsTable,
    ProgramsTable,
    ReviewsTable,
    RiskStatsTable,
    ListsTable,
    ReportsTable,
    DueTable,
):
    """Tenants and keys, accounts and entries, orders and refunds, redemptions, payouts, programs,
    reviews, risk lists, risk statistics, report totals and the due index, over one table (see
    adapters.dynamodb.table for its layout)."""
