"""Customers: who they are (rate, basket, lifecycle, punctuality), their sales orders and what follows them.

Follow-ups of an order: a cancellation or return (same ``order_id``), its
invoice and the payments against it (in full, in parts, late, or never); of a
newcomer: a referral by an existing customer and a prospect assessment.
"""

from __future__ import annotations

import math
from typing import Any

from tierstream.streams.dev.sample.clock import (
    BUSINESS,
    BUSINESS_MAX,
    CONSUMER,
    CONSUMER_MAX,
    DAY,
    HOUR,
    YEAR,
    hour_of_week,
)
from tierstream.streams.dev.sample.core import AUTHORS, K_CUSTOMER, K_CUSTOMER_FIRST, SimulationCore

__all__ = ["Customer", "CustomerSimulation"]

PROSPECT_REASONS = (
    "onboarding call",
    "trade show lead",
    "credit check on sign-up",
    "sales visit",
    "inbound enquiry, large catalogue request",
)
DELAY_REASONS = (
    "awaiting budget approval",
    "disputed quantity on delivery",
    "bank transfer delayed",
    "invoice sent to the wrong address",
    "cash flow: seasonal slowdown",
)
CUSTOMER_OVERRIDES = (
    ("key", "strategic account, agreed at quarterly review"),
    ("key", "framework contract signed, volume ramping"),
    ("potential", "credit hold pending collection"),
)

STEADY, RAMP, LAPSE = 0, 1, 2


class Customer:
    __slots__ = (
        "basket",
        "cost_known",
        "currency",
        "defaults",
        "group",
        "id",
        "invoice_feed",
        "invoiced",
        "join",
        "lapse_at",
        "late_mean",
        "lifecycle",
        "margin",
        "max_rate",
        "on_time",
        "profile",
        "rate",
        "referred",
        "terms",
        "tz",
    )

    def __init__(self) -> None:
        self.id = ""
        self.group: str | None = None
        self.currency = "CNY"
        self.tz = 0
        self.rate = 0.0  # orders per second at lifecycle factor 1
        self.max_rate = 0.0
        self.basket = 0.0
        self.margin = 0.0
        self.cost_known = 0.0
        self.invoiced = 0.0
        self.invoice_feed = False  # its invoices are sent as ``invoice`` events (else payments only)
        self.defaults = 0.0  # share of its invoices never paid (only with an invoice feed)
        self.terms = 0.0
        self.on_time = 0.0
        self.late_mean = 0.0
        self.join = 0.0
        self.lifecycle = STEADY
        self.lapse_at = 0.0
        self.profile = CONSUMER
        self.referred = False  # referred, and not bought yet


class CustomerSimulation(SimulationCore):
    """The customers part of the simulation: the population, then one sales order at a time."""

    def _setup_customers(self) -> None:
        rng = self.rng
        n = self.n_customers
        n_new = round(n * 0.25)
        n_initial = n - n_new
        joins = sorted(self.start + rng.random() * self.span for _ in range(n_new))
        ambassadors: list[str] = []
        initial_buyers: list[str] = []
        width = max(5, len(str(n)))
        for i in range(1, n + 1):
            c = Customer()
            c.id = f"c{i:0{width}d}"
            self.customer_ids.append(c.id)
            newcomer = i > n_initial
            c.join = joins[i - n_initial - 1] if newcomer else self.start
            wholesale = rng.random() < 0.08
            c.group = "wholesale" if wholesale else ("retail" if rng.random() < 0.4 else None)
            c.profile = BUSINESS if wholesale else CONSUMER
            c.currency = "USD" if rng.random() < 0.15 else "CNY"
            tz_roll = rng.random()
            if c.currency == "CNY":
                c.tz = 480 if tz_roll < 0.35 else 0
            else:
                c.tz = -300 if tz_roll < 0.15 else (60 if tz_roll < 0.2 else 0)
            if wholesale:
                per_year = min(rng.lognormvariate(math.log(12), 0.8), 250.0)
                basket = rng.lognormvariate(math.log(4000), 0.8)
                c.margin = rng.uniform(0.05, 0.2)
                c.invoiced = 1.0
                c.terms = rng.choice((30.0, 45.0, 60.0)) * DAY
            else:
                per_year = min(rng.lognormvariate(math.log(3), 1.1), 150.0)
                basket = rng.lognormvariate(math.log(250), 0.9)
                c.margin = rng.uniform(0.15, 0.45)
                c.invoiced = 0.35
                c.terms = rng.choice((7.0, 15.0, 30.0)) * DAY
            c.basket = basket / 7.0 if c.currency == "USD" else basket
            cost_roll = rng.random()  # ~5% of customers come from a feed without costs
            c.cost_known = 0.97 if cost_roll < 0.8 else (0.5 if cost_roll < 0.95 else 0.0)
            if rng.random() < 0.8:
                c.on_time = rng.betavariate(9, 1.2)
                c.late_mean = 5 * DAY
            else:
                c.on_time = rng.betavariate(2.5, 2.5)
                c.late_mean = 20 * DAY
            c.invoice_feed = rng.random() < 0.7
            c.defaults = (0.25 if c.late_mean > 5 * DAY else 0.02) if c.invoice_feed else 0.0
            life_roll = rng.random()
            if life_roll < 0.12:
                c.lifecycle = RAMP
                life_max = 3.0
            elif life_roll < 0.24:
                c.lifecycle = LAPSE
                stay = self.end - c.join
                c.lapse_at = c.join + stay * rng.uniform(0.2, 0.85)
                life_max = 1.0
            else:
                life_max = 1.0
            referred = False
            if newcomer and initial_buyers and rng.random() < 0.4:
                referred = c.referred = True
                pool = ambassadors if ambassadors and rng.random() < 0.5 else initial_buyers
                referrer = rng.choice(pool)
                t_ref = max(self.start, c.join - rng.random() * 2 * DAY)
                self._schedule(
                    t_ref,
                    {
                        "event_id": "",
                        "occurred_at": self.clock.fmt(t_ref, c.tz),
                        "type": "referral",
                        "referrer_id": referrer,
                        "referred_id": c.id,
                    },
                )
            never_buys = rng.random() < (0.25 if referred else 0.1 if newcomer else 0.05)
            c.rate = 0.0 if never_buys else per_year / YEAR
            c.max_rate = c.rate * life_max * (BUSINESS_MAX if wholesale else CONSUMER_MAX)
            self.customer_facts.append((c.id, c.group, c.join, c.tz))
            if newcomer and rng.random() < 0.3:
                t_a = c.join + rng.uniform(HOUR, 5 * DAY)
                score = rng.gauss(55.0 if c.rate > 0 else 35.0, 15.0)
                score += 8.0 * math.log(max(per_year, 0.5) / 3.0)
                self._schedule(
                    t_a,
                    {
                        "event_id": "",
                        "occurred_at": self.clock.fmt(t_a, c.tz),
                        "type": "assessment",
                        "entity_type": "customer",
                        "entity_id": c.id,
                        "prospect_score": round(min(max(score, 0.0), 100.0), 1),
                        "reason": rng.choice(PROSPECT_REASONS),
                        "expires_at": self.clock.fmt(t_a + 90 * DAY, c.tz),
                        "author": rng.choice(AUTHORS),
                    },
                )
            if c.rate > 0:
                if newcomer:
                    first = c.join + rng.random() * 2 * DAY
                    if first <= self.end:
                        self._push(first, K_CUSTOMER_FIRST, c)
                else:
                    initial_buyers.append(c.id)
                    if rng.random() < 0.05:
                        ambassadors.append(c.id)
                    self._next_customer_order(c, self.start)
        if initial_buyers:
            for _ in range(min(2 + n // 5000, n)):
                t = self.start + rng.random() * self.span
                tier, reason = rng.choice(CUSTOMER_OVERRIDES)
                self._schedule(
                    t, self._override("customer", rng.choice(initial_buyers), t, tier, reason)
                )


    def _next_customer_order(self, c: Customer, t: float) -> None:
        """Thinning: candidate times at the max rate, kept in proportion to the actual rate."""
        rng = self.rng
        profile = c.profile
        end = self.end
        while True:
            t += rng.expovariate(c.max_rate)
            if t > end:
                return
            if c.lifecycle == RAMP:
                life = 0.2 + 2.8 * (t - c.join) / (end - c.join)
            elif c.lifecycle == LAPSE:
                life = 1.0 if t < c.lapse_at else 0.01
            else:
                life = 1.0
            if rng.random() * c.max_rate < c.rate * life * profile[hour_of_week(t, c.tz)]:
                self._push(t, K_CUSTOMER, c)
                return

    def _customer_order(self, c: Customer, t: float) -> dict[str, Any]:
        rng = self.rng
        fmt = self.clock.fmt
        self.sales_no += 1
        n = self.sales_no
        amount = round(max(c.basket * rng.lognormvariate(0.0, 0.5), 1.0), 2)
        event: dict[str, Any] = {
            "event_id": "",
            "occurred_at": fmt(t, c.tz),
            "type": "order",
            "order_id": f"so{n:08d}",
            "customer_id": c.id,
            "amount": amount,
        }
        if rng.random() < c.cost_known:
            if rng.random() < 0.03:
                event["cost"] = round(amount * rng.uniform(1.0, 1.2), 2)
            else:
                event["cost"] = round(amount * (1.0 - c.margin * rng.uniform(0.6, 1.4)), 2)
        event["currency"] = c.currency
        if c.group is not None:
            event["customer_group"] = c.group
        # place-and-cancel: a third of the referred newcomers cancel their first order
        fraud = c.referred and self.shapes.random() < 0.3
        c.referred = False
        roll = rng.random()
        if roll < 0.03 or fraud:
            t_c = t + rng.uniform(600, 2 * DAY)
            self._schedule(t_c, self._reversal(event, t_c, c.tz, "cancelled"))
        else:
            if roll < 0.07:
                t_r = t + rng.uniform(3 * DAY, 30 * DAY)
                self._schedule(t_r, self._reversal(event, t_r, c.tz, "returned"))
            if rng.random() < c.invoiced:
                self._invoice(c, t, n, amount)
        self._next_customer_order(c, t)
        return event

    def _invoice(self, c: Customer, t: float, n: int, amount: float) -> None:
        """An order's invoice (an ``invoice`` event when the customer's feed sends them) and its payments.

        Paid on time or late by the customer's punctuality, sometimes in two parts
        (the rest 5-30 days later), a late payment sometimes with its delay reason;
        with an invoice feed, a share of invoices is never paid at all.
        """
        rng = self.rng
        fmt = self.clock.fmt
        invoice_id = f"inv{n:08d}"
        due = t + c.terms
        if c.invoice_feed:
            t_i = t + rng.uniform(60.0, HOUR)
            self._schedule(t_i, {
                "event_id": "",
                "occurred_at": fmt(t_i, c.tz),
                "type": "invoice",
                "invoice_id": invoice_id,
                "customer_id": c.id,
                "amount": amount,
                "issued_at": fmt(t, c.tz),
                "due_at": fmt(due, c.tz),
            })
            if rng.random() < c.defaults:
                return  # never paid
        if rng.random() < c.on_time:
            paid = max(due - rng.random() * min(c.terms, 10 * DAY), t + HOUR)
        else:
            paid = due + HOUR + rng.expovariate(1.0 / c.late_mean)
        parts = [(paid, amount)]
        if rng.random() < 0.1:
            first = round(amount * rng.uniform(0.3, 0.7), 2)
            parts = [(paid, first), (paid + rng.uniform(5 * DAY, 30 * DAY), round(amount - first, 2))]
        for when, part in parts:
            payment = {
                "event_id": "",
                "occurred_at": fmt(when, c.tz),
                "type": "payment",
                "customer_id": c.id,
                "invoice_id": invoice_id,
                "amount": part,
                "due_at": fmt(due, c.tz),
            }
            if when > due + DAY and rng.random() < 0.5:
                payment["delay_reason"] = rng.choice(DELAY_REASONS)
            self._schedule(when, payment)

