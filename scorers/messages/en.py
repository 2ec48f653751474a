"""English templates: the words tierstream has always written (the outputs' default language)."""

from __future__ import annotations

__all__ = ["METRIC_NAMES", "TEMPLATES"]

#: the metrics of the catalog (``scorers/catalog.py``), named in words as their name reads
METRIC_NAMES = (
    "recency_days", "order_count", "revenue", "gross_profit", "on_time_payment_ratio", "late_payments",
    "avg_days_late", "weighted_days_late", "overdue_amount", "longest_overdue_days", "qualified_referrals",
    "purchase_interval_cv", "share_of_wallet", "quality_pass_rate", "on_time_rate", "fill_rate",
    "delivery_accuracy", "price_index", "avg_first_response_hours", "deliveries", "purchase_count",
)

_PAYMENTS = "no payment or overdue invoice in the {window}-day window"
_DELIVERY = "no delivery in the {window}-day window"

TEMPLATES: dict[str, str] = {
    # --- what made a change (its first reason) ---
    "change.ungraded": "ungraded: {why}",
    "change.override": "manual override by {author}: {reason} (until {until})",
    "change.prospect": "prospect assessment by {author}: {reason} "
                       "(newcomer graded on the prospect score {score:g}, {tier})",
    "change.first_grading": "first grading: score {score:.1f} places it in {tier}",
    "change.enough_evidence": "enough evidence to grade: score {score:.1f} places it in {tier}",
    "change.reached": "score {score:num} reached {tier} (minimum {minimum:g})",
    "change.fell_below": "score {score:.1f} fell below what {tier} requires",
    "change.fell_below_minimum": "score {score:num} fell below what {tier} requires (minimum {minimum:g})",
    "change.override_ended": "manual override by {author} ended {date}: {then}",
    "change.prospect_ended": "prospect assessment by {author} ended {date}: {then}",
    "change.prospect_orders": "prospect assessment by {author} no longer applies: "
                              "more than {most} order{most:plural::s}: {then}",
    "change.prospect_deliveries": "prospect assessment by {author} no longer applies: "
                                  "more than {most} deliver{most:plural:y:ies} in the window: {then}",
    "change.re_review": "re-review: {then}",
    "change.rules": "rules {version}: {then}",
    # --- the dimensions that moved the score ---
    "dimension.up": "{label} up from {before:num} to {after:num} ({metric} {value}): {points:num} points",
    "dimension.down": "{label} down from {before:num} to {after:num} ({metric} {value}): {points:num} points",
    "dimension.now_scored": "{label} now scored {score:.0f} ({metric} {value}): {points:num} points",
    "dimension.no_longer_scored": "{label} no longer scored (no {metric} in the window): {points:num} points",
    "dimension.assessed_up": "{label} up from {before:num} to {after:num} ({said}): {points:num} points",
    "dimension.assessed_down": "{label} down from {before:num} to {after:num} ({said}): {points:num} points",
    "dimension.assessed_now": "{label} now scored {score:.0f} ({said}): {points:num} points",
    "dimension.assessed_left_out": "{label} {said}, left out: {points:num} points",
    # --- what a qualitative dimension rests on ---
    "assessed.by": "assessed {score:g} by {author}",
    "assessed.mean": "assessed {score:g}, mean of {evaluators} evaluators",
    "assessed.expired": "assessment expired on {date}",
    "assessed.none": "no assessment in force",
    "assessed.said": "{text}",
    # --- hysteresis ---
    "held.min_days": "held in {tier}: reached {age} days ago, minimum time in tier is {min_days} days",
    "held.margin": "held in {tier}: score {score:.1f} is within the {margin:g}-point margin below {minimum:g}",
    "held.grace": "held in {tier}: score under {line:g} for {days} days, grace is {grace} days",
    # --- credit notes ---
    "credit.unpaid": "invoice {invoice} unpaid, {days} days past due ({owed:,.2f} outstanding)",
    "credit.paid_late": "invoice {invoice} paid {days} days late: {reason}",
    # --- why an entity is ungraded ---
    "evidence.all": "{why:join:; }",
    "evidence.no_assessment": "no {label} assessment in force",
    "evidence.none": "no evidence in any dimension yet",
    "evidence.some": "evidence in {n} of the {count} dimensions required",
    "absent.none_yet": "no {metric} yet",
    "absent.recency_days": "no order yet",
    "absent.gross_profit": "no order with a cost in the {window}-day window",
    "absent.on_time_payment_ratio": _PAYMENTS,
    "absent.weighted_days_late": _PAYMENTS,
    "absent.overdue_amount": _PAYMENTS,
    "absent.longest_overdue_days": _PAYMENTS,
    "absent.purchase_interval_cv": "fewer than 3 purchase days in the {window}-day window",
    "absent.share_of_wallet": "no share of wallet in the customer's profile",
    "absent.quality_pass_rate": "no goods delivered in the {window}-day window",
    "absent.on_time_rate": _DELIVERY,
    "absent.fill_rate": _DELIVERY,
    "absent.delivery_accuracy": _DELIVERY,
    "absent.price_index": "no purchase with a market price in the {window}-day window",
    "absent.avg_first_response_hours": "no service ticket in the {window}-day window",
    # --- a metric's value ---
    "value.plain": "{value:num}",
    "value.days": "{value:num} days",
    "value.hours": "{value:num} h",
    "value.none": "no data",
    # --- what it takes ---
    "hint.any": "{options:join: or }",
    "hint.recency_days": "an order today",
    "hint.order_count": "{n} more order{n:plural::s} in the window",
    "hint.revenue": "{amount:num} more revenue in the window",
    "hint.gross_profit": "{amount:num} more gross profit in the window",
    "hint.on_time_payment_ratio": "on time payment ratio of {target}",
    "hint.weighted_days_late": "payments {target} late on average or less",
    "hint.overdue_amount": "overdue invoices paid down to {target}",
    "hint.qualified_referrals": "{n} more qualified referral{n:plural::s}",
    "hint.quality_pass_rate": "quality pass rate of {target}",
    "hint.on_time_rate": "on time rate of {target}",
    "hint.fill_rate": "fill rate of {target}",
    "hint.delivery_accuracy": "delivery accuracy of {target}",
    "hint.price_index": "prices at {target} of market or lower",
    "hint.avg_first_response_hours": "first responses within {target} on average",
    "hint.more_orders": "{n} more order{n:plural::s} of your average size ({average:,.2f}) in the window",
    "hint.more_deliveries": "{n} more deliver{n:plural:y:ies} of your average size, "
                            "on time, complete and all accepted",
    # --- metrics named in words ---
    **{f"metric.{name}": name.replace("_", " ") for name in METRIC_NAMES},
    # --- early warnings (tier-notices) ---
    "notice.at_risk": "{tier} is held by hysteresis: score {score:g} is under its minimum {minimum:g}; "
                      "it lapses to {target} on {date} unless the score reaches {minimum:g}",
    "notice.supplier_watch": "supplier {supplier}: score {score:g} left {tier} (minimum {minimum:g}) for {target}; "
                             "the downgrade takes effect on {date} if nothing changes",
    "notice.approaching": "score {score:g} is {gap:g} points from {target} (minimum {minimum:g})",
    "notice.override_expiring": "manual override to {tier} by {author} expires on {date}; {then}",
    "notice.without_override_ungraded": "without it the entity is ungraded: {why}",
    "notice.without_override_tier": "the score {score:g} alone places it in {tier}",
    "notice.prospect_expiring": "prospect assessment by {author} ({score:g}) expires on {date}; "
                                "the newcomer is then graded on its own figures",
    # --- what is due for review (tierstream review) ---
    "review.override_expiring": "tier override to {tier} by {author} expires {date} (in {days:.1f} days): "
                                "{reason} [{event}]",
    "review.prospect_expiring": "prospect assessment {score:g} by {author} expires {date} (in {days:.1f} days): "
                                "{reason} [{event}]",
    "review.held": "held in {tier} by hysteresis: score {score:g} is {gap:g} points under its minimum {minimum:g}",
    "review.held_keep": "{held}; to keep it: {hints:join: or }",
    "review.case_in_days": "rectification case {case} opened {opened}: re-assessed at its deadline {deadline} "
                           "(in {days:.1f} days); score {score:g} in {tier}",
    "review.case_overdue": "rectification case {case} opened {opened}: re-assessed at its deadline {deadline} "
                           "({days:.1f} days overdue); score {score:g} in {tier}",
    "review.watch": "on watch: its score left {tier} for {target}; score {score:g}",
    "review.watch_held": "on watch: its score left {tier} for {target}; score {score:g} under {tier}'s minimum "
                         "{minimum:g}",
    "review.watch_lapse": "{watch}; the downgrade takes effect on {date} if nothing changes",
}
