"""Deadlines, extensions and fee limits per jurisdiction, from the versioned rules file."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from core.models import Practice
from records.access_rules import AccessRuleError, access_rule, access_rules

D = dt.date


def test_every_practice_region_has_a_rule_with_a_source():
    rules = access_rules()
    for region in Practice.Region.values:
        rule = access_rule(region)
        assert rule.region == region and rules[region] is rule
        assert rule.source and rule.fee_source and rule.withhold_source


@pytest.mark.parametrize(
    ("region", "received", "due", "extended"),
    [
        ("US", D(2026, 1, 15), D(2026, 2, 14), D(2026, 3, 16)),  # 30 days, then 30 more
        ("US", D(2028, 2, 1), D(2028, 3, 2), D(2028, 4, 1)),  # across 29 February
        ("CA", D(2026, 12, 20), D(2027, 1, 19), D(2027, 2, 18)),
        ("UK", D(2026, 3, 3), D(2026, 4, 3), D(2026, 6, 3)),  # one month, then two more
        ("UK", D(2026, 1, 31), D(2026, 2, 28), D(2026, 4, 28)),  # no 31 February: its last day
        ("UK", D(2027, 12, 15), D(2028, 1, 15), D(2028, 3, 15)),  # across a year end
        ("OTHER", D(2026, 5, 1), D(2026, 5, 31), D(2026, 6, 30)),
    ],
)
def test_deadlines_and_extensions(region, received, due, extended):
    rule = access_rule(region)
    assert rule.due_on(received) == due
    assert rule.due_on(received, extended=True) == extended


def test_a_rule_without_extension_refuses_one():
    rule = access_rule("AU")
    assert rule.due_on(D(2026, 1, 1)) == D(2026, 1, 31)
    with pytest.raises(ValueError, match="no extension"):
        rule.due_on(D(2026, 1, 1), extended=True)


def test_unknown_region_follows_the_custom_rule():
    assert access_rule("ZZ") is access_rule("OTHER")


@pytest.mark.parametrize(
    ("region", "fee", "electronic", "itemised", "refused"),
    [
        ("US", "0", True, False, ""),
        ("US", "6.50", True, False, ""),
        ("US", "6.51", True, False, "at most $6.50 flat"),
        ("US", "25", True, True, ""),  # itemised cost of an electronic copy
        ("US", "25", False, False, "itemised cost of copying"),
        ("US", "25", False, True, ""),
        ("UK", "0", True, False, ""),
        ("UK", "0.01", True, True, "copies are free"),
        ("CA", "10", False, False, "must stay minimal"),
        ("CA", "10", False, True, ""),
        ("AU", "10", True, False, "must stay minimal"),
        ("US", "-1", True, False, "cannot be negative"),
    ],
)
def test_fee_policy_refusals_give_the_reason(region, fee, electronic, itemised, refused):
    problem = access_rule(region).fee_problem(
        Decimal(fee), electronic=electronic, itemised=itemised
    )
    if refused:
        assert refused in problem
    else:
        assert problem == ""


@pytest.mark.parametrize("region", Practice.Region.values)
def test_records_are_never_held_back_for_a_balance(region):
    problem = access_rule(region).withholding_problem()
    assert problem.startswith("Records cannot be held back until a balance is paid")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["US"].pop("deadline"), "US: missing 'deadline'"),
        (lambda r: r["US"].update(deadline={"days": 0}), "US.deadline: days or months"),
        (lambda r: r["UK"].update(extension={"weeks": 2}), "UK.extension: expected days"),
        (lambda r: r["CA"]["fee"].update(kind="whatever"), "CA.fee.kind: one of"),
        (lambda r: r["US"]["fee"].update(flat_electronic_max="lots"), "not an amount"),
    ],
)
def test_a_broken_rules_file_names_the_problem(tmp_path, change, message):
    from records.access_rules import RULES_FILE

    data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    change(data["rules"])
    broken = tmp_path / "rules.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(AccessRuleError, match=message.replace("'", ".")):
        access_rules(broken)
