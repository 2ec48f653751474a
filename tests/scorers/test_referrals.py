"""Referral credits: once the referred customer orders, and counted once."""

from __future__ import annotations

import pytest

from tests.scorers.helpers import agg, at, feed, order, payment, referral
from tierstream.schemas.events import AnyEvent
from tierstream.schemas.outputs import ReferralCredit
from tierstream.scorers.engine import Grader


@pytest.mark.parametrize("referral_first", [True, False])
def test_referral_credit_once_the_referred_customer_orders(g: Grader, referral_first: bool) -> None:
    ref, first, second = referral(0, "c1", "c2"), order(3, "o1", cust="c2"), order(4, "o2", cust="c2")
    evs: list[AnyEvent] = [ref, first, second] if referral_first else [first, ref, second]
    state, outs = feed(g, evs)
    credits = [c for o in outs for c in o.credits]
    assert len(credits) == 1
    (credit,) = credits
    assert credit.credit_id == f"rc:c1:c2:{int(credit.occurred_at.timestamp())}"
    assert (credit.referrer_id, credit.referred_id) == ("c1", "c2")
    assert credit.occurred_at == at(3)  # when the referral qualified
    assert state.credited == ("c1", int(credit.occurred_at.timestamp()))
    # a repeated referral or more orders never credit again
    state, out = g.apply(state, order(5, "o3", cust="c2"))
    assert out.credits == []


def test_referral_without_order_gives_no_credit(g: Grader) -> None:
    state, outs = feed(g, [referral(0, "c1", "c2"), payment(2, "i1", 3, cust="c2")])
    assert [c for o in outs for c in o.credits] == []
    assert state.credited is None


def test_credit_counts_once_even_if_applied_twice(g: Grader) -> None:
    credit = ReferralCredit(credit_id="rc:c1:c2", referrer_id="c1", referred_id="c2", occurred_at=at(3))
    state, out1 = g.credit(None, credit)
    assert out1.status == "applied"
    assert (state.kind, state.entity_id) == ("customer", "c1")
    before = state.to_bytes()
    state, out2 = g.credit(state, credit)
    assert out2.status == "duplicate"
    assert state.to_bytes() == before
    assert agg(g, state)["qualified_referrals"] == 1
    other = credit.model_copy(update={"credit_id": "rc:c1:c3", "referred_id": "c3"})
    state, _ = g.credit(state, other)
    snap = g.snapshot(state, state.clock)
    assert snap.aggregates["qualified_referrals"] == 2
    assert snap.components["referrals"] == 65.0
