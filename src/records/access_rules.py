"""The right-of-access rules as data: deadline, extension and fees by region, with sources.

``data/access_rules.json`` holds the rules and the source of each; this module reads it
once, checks its shape, and answers the questions a records request asks: when is it due,
when is it due if extended, and may the practice charge this fee or hold records back?
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

RULES_FILE = Path(__file__).parent / "data" / "access_rules.json"
FEE_KINDS = {"cost_based", "free", "not_excessive", "minimal_cost", "custom"}


class AccessRuleError(Exception):
    """The rules file is not as expected; the message names the region and field."""


@dataclass(frozen=True)
class Period:
    days: int = 0
    months: int = 0

    def after(self, day: dt.date) -> dt.date:
        """``day`` plus this period; a month ends on the same date of the next month, or on
        its last day when it has no such date (31 January → 28 or 29 February)."""
        if self.months:
            month_index = day.month - 1 + self.months
            year, month = day.year + month_index // 12, month_index % 12 + 1
            day = day.replace(year=year, month=month, day=min(day.day, _last_day(year, month)))
        return day + dt.timedelta(days=self.days)

    def __str__(self) -> str:
        if self.months:
            return f"{self.months} month{'s' if self.months != 1 else ''}"
        return f"{self.days} days"


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


@dataclass(frozen=True)
class AccessRule:
    region: str
    name: str
    source: str
    deadline: Period
    extension: Period | None
    fee_kind: str
    fee_source: str
    flat_electronic_max: Decimal | None
    withhold_source: str

    def due_on(self, received_on: dt.date, *, extended: bool = False) -> dt.date:
        """The last day to fulfil a request received on ``received_on``."""
        due = self.deadline.after(received_on)
        if extended:
            if self.extension is None:
                raise ValueError(f"{self.name} has no extension")
            due = self.extension.after(due)
        return due

    def fee_problem(self, fee: Decimal, *, electronic: bool, itemised: bool = False) -> str:
        """Why a fee may not be charged under this rule, or "" when it may."""
        if fee < 0:
            return "A fee cannot be negative."
        if fee == 0:
            return ""
        if self.fee_kind == "free":
            return f"{self.name}: copies are free ({self.fee_source})."
        if self.fee_kind == "cost_based":
            if electronic and self.flat_electronic_max is not None:
                if fee <= self.flat_electronic_max or itemised:
                    return ""
                return (
                    f"{self.name}: an electronic copy may cost at most "
                    f"${self.flat_electronic_max} flat, or the itemised cost of labour, "
                    f"supplies and postage ({self.fee_source})."
                )
            return (
                ""
                if itemised
                else (
                    f"{self.name}: a fee must be the itemised cost of copying, supplies and "
                    f"postage ({self.fee_source})."
                )
            )
        if self.fee_kind in {"minimal_cost", "not_excessive"} and not itemised:
            return (
                f"{self.name}: say what the fee covers; it must stay minimal ({self.fee_source})."
            )
        return ""

    def withholding_problem(self) -> str:
        """Records are never held back until a balance is paid; the reason, in words."""
        return f"Records cannot be held back until a balance is paid ({self.withhold_source})."


def _period(value, where: str) -> Period | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"days", "months", "written_notice", "times"}:
        raise AccessRuleError(f"{where}: expected days or months")
    days, months = value.get("days", 0), value.get("months", 0)
    if not all(isinstance(n, int) and 0 <= n <= 366 for n in (days, months)) or not (
        days or months
    ):
        raise AccessRuleError(f"{where}: days or months must be a whole number above 0")
    return Period(days=days, months=months)


def _rule(region: str, raw: dict) -> AccessRule:
    try:
        fee = raw["fee"]
        if fee["kind"] not in FEE_KINDS:
            raise AccessRuleError(f"{region}.fee.kind: one of {', '.join(sorted(FEE_KINDS))}")
        flat = fee.get("flat_electronic_max")
        return AccessRule(
            region=region,
            name=raw["name"],
            source=raw["source"],
            deadline=_period(raw["deadline"], f"{region}.deadline"),
            extension=_period(raw["extension"], f"{region}.extension"),
            fee_kind=fee["kind"],
            fee_source=fee["source"],
            flat_electronic_max=Decimal(flat) if flat is not None else None,
            withhold_source=raw["withhold_source"],
        )
    except KeyError as missing:
        raise AccessRuleError(f"{region}: missing {missing}") from None
    except InvalidOperation:
        raise AccessRuleError(f"{region}.fee.flat_electronic_max: not an amount") from None


@functools.cache
def access_rules(path: Path = RULES_FILE) -> dict[str, AccessRule]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("rules"), dict):
        raise AccessRuleError(f"{path.name}: expected an object with rules by region")
    return {region: _rule(region, raw) for region, raw in data["rules"].items()}


def access_rule(region: str) -> AccessRule:
    """The rule for a practice's region; an unknown region follows the custom rule."""
    rules = access_rules()
    return rules.get(region, rules["OTHER"])
