"""The analysts' desk beyond the queue: closed cases by state, three sorts, claims and
take-overs, notes, the team's stats, and the case file's linked accounts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from cashback.domain.risk.features import FEATURE_NAMES
from cashback.domain.tenants import TenantSettings
from cashback.services import keys
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, unique
from .test_review_races import _at_once


class Team:
    """One enforcing storefront and two analysts, alice and bob (each their own key)."""

    def __init__(self, stack: LocalStack) -> None:
        assert stack.store is not None
        self.tenant = unique("team")
        tenant_keys = stack.add_tenant(self.tenant, TenantSettings(currency="BRL"), now_iso())
        self.shop = Api(stack.url, tenant_keys["storefront"])
        self.alice = Api(stack.url, tenant_keys["review"])
        bob_key = keys.create_key(stack.store, self.tenant, ["review"], now_iso())
        self.bob = Api(stack.url, bob_key)

    def stats(self, who: Api) -> dict[str, Any]:
        reply = who.get("/v1/review-stats")
        assert reply.status_code == 200, reply.text
        return reply.json()

    def burst(self, customer: str, device: str, first_minute: int) -> list[dict[str, Any]]:
        """Eight purchases of one customer on one device, a minute apart, each larger than
        the last (an hour ago onwards): the velocity rule holds most of them."""
        replies = [
            self.shop.purchase(
                customer,
                30000 + 100 * first_minute + i,
                device_id=device,
                occurred_at=now_iso(timedelta(minutes=-90 + first_minute + i)),
            ).json()
            for i in range(8)
        ]
        return [reply for reply in replies if reply["status"] == "held"]

    def held(self, wanted: int) -> list[dict[str, Any]]:
        """Bursts of new customers until at least `wanted` purchases are held: all of them
        (every one is an open case)."""
        held: list[dict[str, Any]] = []
        while len(held) < wanted:
            held += self.burst(unique("burst"), unique("dev"), 10 * len(held))
        return held

    def cases(self, who: Api, **params: Any) -> dict[str, Any]:
        reply = who.get("/v1/reviews", params=params)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def case(self, order_id: str) -> dict[str, Any]:
        reply = self.alice.get(f"/v1/reviews/{order_id}")
        assert reply.status_code == 200, reply.text
        return reply.json()


@pytest.fixture
def team(stack: LocalStack) -> Team:
    return Team(stack)


def _ids(page: dict[str, Any]) -> list[str]:
    return [row["order_id"] for row in page["items"]]


def test_decided_and_refunded_cases_are_listed_by_state(team: Team) -> None:
    approved, rejected, refunded, still_open = team.held(4)[:4]
    assert (
        team.alice.post(
            f"/v1/reviews/{approved['order_id']}/decision",
            {"decision": "approve", "reason": "legitimate"},
        ).status_code
        == 200
    )
    assert (
        team.alice.post(
            f"/v1/reviews/{rejected['order_id']}/decision", {"decision": "reject"}
        ).status_code
        == 200
    )
    amount = team.case(refunded["order_id"])["amount"]
    assert team.shop.refund(refunded["order_id"], amount).status_code == 201

    listed = {
        state: _ids(team.cases(team.alice, status=state))
        for state in ("open", "approved", "rejected", "refunded")
    }
    assert listed["approved"] == [approved["order_id"]]
    assert listed["rejected"] == [rejected["order_id"]]
    assert listed["refunded"] == [refunded["order_id"]]
    assert still_open["order_id"] in listed["open"]
    assert not {approved["order_id"], rejected["order_id"], refunded["order_id"]} & set(
        listed["open"]
    )
    (row,) = team.cases(team.alice, status="approved")["items"]
    assert row["state"] == "approved" and row["cashback_held"] == 0
    assert row["decision"]["reason"] == "legitimate" and "request_hash" not in row["decision"]
    assert team.case(refunded["order_id"])["state"] == "refunded"


def test_open_cases_sort_by_risk_age_and_amount_and_show_what_is_held(team: Team) -> None:
    held = team.held(4)
    by_risk = team.cases(team.alice)["items"]
    priorities = [r["priority"] for r in by_risk]  # the customer's riskiest score (see below)
    assert priorities == sorted(priorities, reverse=True)
    by_age = team.cases(team.alice, sort="age")["items"]
    assert [r["occurred_at"] for r in by_age] == sorted(r["occurred_at"] for r in by_age)
    by_amount = team.cases(team.alice, sort="amount")["items"]
    assert [r["amount"] for r in by_amount] == sorted(
        (r["amount"] for r in by_amount), reverse=True
    )
    cashback = {r["order_id"]: r["cashback"] for r in held}
    for row in by_age:
        assert row["state"] == "open" and row["claim"] is None
        assert row["cashback_held"] == cashback[row["order_id"]] > 0
        assert row["age_seconds"] >= 0


def test_each_sort_pages_with_its_own_cursor(team: Team) -> None:
    held = team.held(3)
    for sort in ("risk", "age", "amount"):
        first = team.cases(team.alice, sort=sort, limit=2)
        rest = team.cases(team.alice, sort=sort, limit=50, cursor=first["next_cursor"])
        assert sorted(_ids(first) + _ids(rest)) == sorted(r["order_id"] for r in held)
    cursor = team.cases(team.alice, sort="age", limit=1)["next_cursor"]
    for params in ({"sort": "risk"}, {"sort": "age", "status": "approved"}):
        reply = team.alice.get("/v1/reviews", params={**params, "cursor": cursor})
        assert (reply.status_code, reply.json()["code"]) == (400, "invalid_cursor")


def test_a_claimed_case_is_the_claimants_until_taken_over(team: Team) -> None:
    order_id = team.held(1)[0]["order_id"]
    path = f"/v1/reviews/{order_id}"
    before = datetime.now(tz=datetime.now().astimezone().tzinfo)
    claimed = team.alice.post(f"{path}/claim")  # no body: a plain claim
    assert claimed.status_code == 200, claimed.text
    alice = claimed.json()["claim"]["by"]
    until = datetime.fromisoformat(claimed.json()["claim"]["until"])
    assert timedelta(minutes=29) < until - before <= timedelta(minutes=31)

    refused = team.bob.post(f"{path}/claim", {})
    assert (refused.status_code, refused.json()["code"]) == (409, "case_claimed")
    assert refused.json()["details"]["by"] == alice
    blocked = team.bob.post(f"{path}/decision", {"decision": "reject"})
    assert (blocked.status_code, blocked.json()["code"]) == (409, "case_claimed")
    assert team.case(order_id)["state"] == "open"
    (row,) = [r for r in team.cases(team.bob)["items"] if r["order_id"] == order_id]
    assert row["claim"]["by"] == alice

    no_reason = team.bob.post(f"{path}/claim", {"take_over": True})
    assert (no_reason.status_code, no_reason.json()["code"]) == (422, "validation_error")
    taken = team.bob.post(f"{path}/claim", {"take_over": True, "reason": "alice is out"})
    assert taken.status_code == 200, taken.text
    bob = taken.json()["claim"]["by"]
    assert bob != alice
    assert team.case(order_id)["claim_log"] == [
        {
            "by": bob,
            "at": team.case(order_id)["claim_log"][0]["at"],
            "until": taken.json()["claim"]["until"],
            "taken_from": alice,
            "reason": "alice is out",
        }
    ]
    late = team.alice.post(f"{path}/decision", {"decision": "approve"})
    assert (late.status_code, late.json()["code"]) == (409, "case_claimed")
    decided = team.bob.post(f"{path}/decision", {"decision": "reject", "reason": "velocity"})
    assert decided.status_code == 200, decided.text
    closed = team.alice.post(f"{path}/claim")
    assert (closed.status_code, closed.json()["code"]) == (409, "case_closed")


def test_two_analysts_claiming_at_once_get_one_claim(team: Team) -> None:
    order_id = team.held(1)[0]["order_id"]
    path = f"/v1/reviews/{order_id}/claim"
    replies = _at_once([(team.alice, path, {}), (team.bob, path, {})])
    assert sorted(r.status_code for r in replies) == [200, 409]
    (won,) = [r for r in replies if r.status_code == 200]
    (lost,) = [r for r in replies if r.status_code == 409]
    assert lost.json()["details"]["by"] == won.json()["claim"]["by"]
    assert team.case(order_id)["claim"]["by"] == won.json()["claim"]["by"]


def test_notes_are_kept_with_author_and_time_on_open_and_closed_cases(team: Team) -> None:
    order_id = team.held(1)[0]["order_id"]
    path = f"/v1/reviews/{order_id}/notes"
    first = team.alice.post(path, {"text": "called the customer"})
    assert first.status_code == 201, first.text
    assert team.alice.post(f"/v1/reviews/{order_id}/decision", {"decision": "approve"}).ok
    second = team.bob.post(path, {"text": "confirmed by the bank"})
    assert second.status_code == 201
    notes = team.case(order_id)["notes"]
    assert [n["text"] for n in notes] == ["called the customer", "confirmed by the bank"]
    assert [n["by"] for n in notes] == [first.json()["by"], second.json()["by"]]
    assert notes[0]["by"] != notes[1]["by"] and all(n["at"] and n["note_id"] for n in notes)


@pytest.mark.parametrize(
    "body",
    [{}, {"text": ""}, {"text": "   "}, {"text": "x" * 2001}, {"text": 5}, {"text": "a", "x": 1}],
)
def test_bad_notes_are_422_and_keep_nothing(team: Team, body: Any) -> None:
    order_id = team.held(1)[0]["order_id"]
    reply = team.alice.post(f"/v1/reviews/{order_id}/notes", body)
    assert (reply.status_code, reply.json()["code"]) == (422, "validation_error")
    assert team.case(order_id)["notes"] == []


def test_notes_claims_and_stats_need_a_review_key_and_a_case(team: Team) -> None:
    order_id = team.held(1)[0]["order_id"]
    assert team.shop.post(f"/v1/reviews/{order_id}/notes", {"text": "hi"}).status_code == 403
    assert team.shop.post(f"/v1/reviews/{order_id}/claim", {}).status_code == 403
    assert team.shop.get("/v1/review-stats").status_code == 403
    missing = unique("nope")
    for path, body in (("notes", {"text": "hi"}), ("claim", {})):
        reply = team.alice.post(f"/v1/reviews/{missing}/{path}", body)
        assert (reply.status_code, reply.json()["code"]) == (404, "case_not_found")
    bad = team.alice.post(f"/v1/reviews/{order_id}/claim", {"take_over": "yes please"})
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")


def test_the_team_view_counts_the_queue_and_each_analysts_decisions(team: Team) -> None:
    held = team.held(3)
    first, second, third = held[:3]
    assert team.alice.post(f"/v1/reviews/{first['order_id']}/claim").ok
    empty = team.stats(team.alice)
    assert (empty["open"], empty["claimed"], empty["decided"]) == (len(held), 1, 0)
    assert empty["approval_rate"] is None
    rows = team.cases(team.alice, sort="age")["items"]
    assert empty["oldest_open_at"] == rows[0]["occurred_at"]
    # The rows are read after the stats: their age is the same or a second or more older.
    assert 0 < empty["oldest_age_seconds"] <= rows[0]["age_seconds"]
    assert team.alice.post(f"/v1/reviews/{first['order_id']}/decision", {"decision": "approve"}).ok
    assert team.bob.post(f"/v1/reviews/{second['order_id']}/decision", {"decision": "reject"}).ok
    assert team.bob.post(f"/v1/reviews/{third['order_id']}/decision", {"decision": "approve"}).ok
    stats = team.stats(team.bob)
    assert (stats["open"], stats["claimed"]) == (len(held) - 3, 0)
    assert (stats["decided"], stats["approved"], stats["rejected"]) == (3, 2, 1)
    assert stats["approval_rate"] == "0.6667"
    tallies = {row["approved"] + row["rejected"]: row for row in stats["by_analyst"]}
    assert tallies[1]["approved"] == 1 and tallies[2] == {
        **tallies[2],
        "approved": 1,
        "rejected": 1,
    }


def test_the_case_file_links_customers_on_the_same_device_with_their_cases(team: Team) -> None:
    device = unique("shared-dev")
    mine = team.burst(unique("me"), device, 0)[0]
    theirs = team.burst(unique("them"), device, 20)
    case = team.case(mine["order_id"])
    linked = {link["customer_id"]: link for link in case["linked"]}
    assert linked[theirs[0]["customer_id"]]["via"] == "device"
    shown = linked[theirs[0]["customer_id"]]["cases"]
    assert {c["order_id"] for c in shown} <= {r["order_id"] for r in theirs}
    assert len(shown) == min(3, len(theirs)) and all(c["state"] == "open" for c in shown)
    own = {c["order_id"] for c in case["cases"]}
    assert mine["order_id"] not in own and mine["customer_id"] not in linked


def test_the_case_file_shows_each_feature_as_screened(team: Team) -> None:
    held = team.held(1)[0]
    features = team.case(held["order_id"])["features"]
    assert [f["name"] for f in features] == list(FEATURE_NAMES)
    # A new storefront has recorded too few purchases for its own normal.
    assert all(f["percentile"] is None for f in features)
    assert any(f["value"] > 0 for f in features)


@pytest.mark.parametrize(
    ("listed", "next_status"), [("watch_customer", "held"), ("deny_customer", "blocked")]
)
def test_a_decision_can_put_the_customer_on_a_list_in_the_same_step(
    team: Team, listed: str, next_status: str
) -> None:
    held = team.held(1)[0]
    customer = held["customer_id"]
    body = {"decision": "reject", "reason": "refund_abuse", "customer_list": listed}
    decided = team.alice.post(f"/v1/reviews/{held['order_id']}/decision", body)
    assert decided.status_code == 200, decided.text
    assert decided.json()["customer_list"] == listed
    entries = team.alice.get("/v1/lists", params={"kind": listed}).json()["items"]
    assert [(e["value"], e["reason"]) for e in entries] == [
        (customer, f"case {held['order_id']} (refund_abuse)")
    ]
    audit = team.alice.get("/v1/lists/audit").json()["items"]
    assert [(a["action"], a["kind"], a["value"]) for a in audit] == [("put", listed, customer)]
    # The same request retried: the first reply, the entry once.
    again = team.alice.post(f"/v1/reviews/{held['order_id']}/decision", body)
    assert again.json() == decided.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(team.alice.get("/v1/lists/audit").json()["items"]) == 1
    # The customer's next ordinary purchase, a week later in their pattern, is screened by it.
    later = team.shop.purchase(customer, 5000, device_id=unique("dev")).json()
    assert later["status"] == next_status
    # Reversible: off the list, the next purchase is judged on its own again.
    removed = team.alice.session.delete(f"{team.alice.base_url}/v1/lists/{listed}/{customer}")
    assert removed.status_code == 204


def test_a_decision_with_an_unknown_list_is_422_and_closes_nothing(team: Team) -> None:
    held = team.held(1)[0]
    for listed in ("allow_customer", "deny_device", "ban"):
        body = {"decision": "reject", "customer_list": listed}
        reply = team.alice.post(f"/v1/reviews/{held['order_id']}/decision", body)
        assert (reply.status_code, reply.json()["code"]) == (422, "validation_error")
    assert team.case(held["order_id"])["state"] == "open"
    assert team.alice.get("/v1/lists").json()["items"] == []


def test_a_customers_open_cases_rise_with_their_riskiest_later_purchase(
    stack: LocalStack, team: Team
) -> None:
    assert stack.store is not None
    customer, device = unique("riser"), unique("dev")
    replies = [
        team.shop.purchase(
            customer,
            30000 + 100 * i,
            device_id=device,
            occurred_at=now_iso(timedelta(minutes=-30 + i)),
        ).json()
        for i in range(8)
    ]
    first_held = next(i for i, reply in enumerate(replies) if reply["status"] == "held")
    scores = []
    for reply in replies[first_held:]:
        order = stack.store.get_order(team.tenant, reply["order_id"])
        assert order is not None and order.risk is not None
        scores.append(float(order.risk["score"]))
    rows = [r for r in team.cases(team.alice)["items"] if r["customer_id"] == customer]
    assert rows
    # Every open case of the customer now sorts by the riskiest score seen since the first.
    assert [r["priority"] for r in rows] == [pytest.approx(max(scores), abs=1e-6)] * len(rows)
    for row in rows:
        assert row["priority"] >= row["score"]
        assert (row["priority_from"] is None) == (row["priority"] == row["score"])
    ranked = team.cases(team.alice)["items"]
    assert [r["priority"] for r in ranked] == sorted((r["priority"] for r in ranked), reverse=True)
