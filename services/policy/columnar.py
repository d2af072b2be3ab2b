"""Batch matching over columns (批量速配): the same rules as :mod:`rules` and :mod:`amounts`,
evaluated for many subjects at once with numpy, every check's result kept.

Facts arrive as columns (one array of values and one of *known* per fact). Every node of a
condition gives two masks, *true* and *unknown* (false is neither), combined with the same
three-valued logic as :func:`rules.evaluate`; every check keeps its *known* and *met* bits
(packed, one bit per subject), so :meth:`PolicyBatch.explain` gives, for any subject, the very
explanation :func:`matching.match` gives. Where a column is not numeric (text, lists,
true/false) a check falls back to the scalar comparison, element by element; amounts are
computed in exact integer arithmetic (fen, half up), falling back to :func:`amounts.compute`
where that is not possible. ``tests/unit/policy/test_columnar.py`` holds both engines to the
same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from services.common.document import Document
from services.policy import amounts, matching
from services.policy.rules import CheckResult, Tri, compare, facts_read, parameter

Mask = npt.NDArray[np.bool_]
Fen = npt.NDArray[np.signedinteger[Any]]  # amounts in fen, one per subject
_NUMERIC_OPS = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}
_INT64_SAFE = 2**62
_FLOAT_EXACT = 2**53  # integers below this are exact in float64
_TABLE_LIMIT = 1 << 20
_AMOUNT_TABLE_LIMIT = 4096  # distinct values worth one scalar computation each


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class Column:
    """One fact for every subject: ``values`` (numeric or object) and ``known``."""

    values: npt.NDArray[Any]
    known: Mask

    @property
    def numeric(self) -> bool:
        return self.values.dtype != object

    @cached_property
    def all_known(self) -> bool:
        return bool(self.known.all())

    @cached_property
    def packed_known(self) -> npt.NDArray[np.uint8]:
        """``known`` one bit per subject, shared by every check of this fact."""
        return np.packbits(self.known)

    @cached_property
    def index(self) -> npt.NDArray[Any]:
        """Values usable as table indexes (unknown ones read as 0, masked later)."""
        return self.values if self.all_known else np.where(self.known, self.values, 0)

    @cached_property
    def span(self) -> tuple[int, int] | None:
        """(lowest, highest) known value of an integer column (None: not integers, or
        nothing known)."""
        if self.values.dtype != np.int64 or not self.known.any():
            return None
        present = self.values if self.all_known else self.values[self.known]
        return int(present.min()), int(present.max())


def column(values: Iterable[Any]) -> Column:
    """A column from Python values (None = unknown); numeric when every known value is a
    number (int64 when all are integers), otherwise object."""
    items = list(values)
    known = np.fromiter((v is not None for v in items), dtype=bool, count=len(items))
    present = [v for v in items if v is not None]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present) and all(
        abs(v) < _INT64_SAFE for v in present
    ):
        return Column(np.array([0 if v is None else v for v in items], dtype=np.int64), known)
    if all(_is_number(v) for v in present):
        return Column(np.array([0.0 if v is None else v for v in items], dtype=np.float64), known)
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return Column(array, known)


def columns_of(rows: Sequence[Mapping[str, Any]], names: Iterable[str]) -> dict[str, Column]:
    """Columns for the named facts of ``rows`` (one mapping of facts per subject)."""
    return {name: column(row.get(name) for row in rows) for name in names}


def _elementwise(op: str, col: Column, required: Any) -> Mask:
    each = np.frompyfunc(lambda actual: compare(op, actual, required), 1, 1)
    out = np.zeros(len(col.known), dtype=bool)
    where = np.flatnonzero(col.known)
    if len(where):
        out[where] = each(col.values[where]).astype(bool)
    return out


def _met(op: str, col: Column, required: Any) -> Mask:
    """Where the fact is known and the comparison holds."""
    if col.numeric:
        if op in _NUMERIC_OPS and _is_number(required):
            met: Mask = _NUMERIC_OPS[op](col.values, required)
            return met if col.all_known else met & col.known
        if op in ("in", "not_in") and all(_is_number(v) for v in required):
            inside = _isin(col, required)
            met = inside if op == "in" else ~inside
            return met if col.all_known else met & col.known
        if op == "contains":
            return np.zeros(len(col.known), dtype=bool)  # a number contains nothing
    return _elementwise(op, col, required)


def _narrow(low: int, high: int) -> type[np.signedinteger[Any]]:
    """The narrowest integer type holding both (amounts are kept for every subject)."""
    for kind in (np.int8, np.int16, np.int32):
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return kind
    return np.int64


def _isin(col: Column, required: list[Any]) -> Mask:
    """Membership; a lookup table when the column holds small non-negative integers."""
    span = col.span
    if span is None or span[0] < 0 or span[1] >= _TABLE_LIMIT:
        return np.isin(col.values, np.array(required))
    table = np.zeros(span[1] + 1, dtype=bool)
    for value in required:
        if value == int(value) and 0 <= value <= span[1]:
            table[int(value)] = True
    return table[col.index]  # type: ignore[no-any-return]


@dataclass
class CheckBits:
    node: Mapping[str, Any]
    required: Any
    known: npt.NDArray[np.uint8]  # packed bits
    met: npt.NDArray[np.uint8]


@dataclass
class PolicyBatch:
    """One policy matched against ``size`` subjects: the eligible masks, the amounts and
    every check's bits."""

    policy: Document
    size: int
    true: Mask
    maybe_unknown: Mask | None  # None: unknown nowhere
    amount: npt.NDArray[np.signedinteger[Any]]
    amount_known: Mask | None  # None: known everywhere
    checks: list[CheckBits] = field(default_factory=list)

    @cached_property
    def met_count(self) -> npt.NDArray[np.uint16]:
        """How many checks each subject meets (from the kept bits, when first asked)."""
        count = np.zeros(self.size, dtype=np.uint16)
        for check in self.checks:
            count += np.unpackbits(check.met, count=self.size).astype(np.uint16)
        return count

    @cached_property
    def near_miss(self) -> Mask:
        """Not eligible, and exactly one check not met."""
        one_away: Mask = len(self.checks) - self.met_count.astype(np.int32) == 1
        return ~self.true & one_away

    @property
    def eligible_count(self) -> int:
        return int(self.true.sum())

    @property
    def total_amount(self) -> int:
        return int(self.amount[self.paid].sum(dtype=np.int64))

    @property
    def paid(self) -> Mask:
        """Eligible, with a known amount."""
        return self.true if self.amount_known is None else self.true & self.amount_known

    @property
    def unknown_count(self) -> int:
        return 0 if self.maybe_unknown is None else int(self.maybe_unknown.sum())

    def amount_of(self, i: int) -> int | None:
        """The amount subject ``i`` would be paid (None: not eligible or unknown)."""
        if self.policy.get("amount") is None or not self.paid[i]:
            return None
        return int(self.amount[i])

    def degree(self, i: int) -> float:
        """Share of checks met, as :func:`matching.match` rounds it."""
        return round(int(self.met_count[i]) / len(self.checks), 4) if self.checks else 1.0

    def eligible(self, i: int) -> Tri:
        if self.true[i]:
            return True
        return None if self.maybe_unknown is not None and self.maybe_unknown[i] else False

    def eligible_label(self, i: int) -> str:
        return matching.LABELS[self.eligible(i)]

    def explain(self, i: int, columns: Mapping[str, Column]) -> dict[str, Any]:
        """Subject ``i``'s explanation, the same as :func:`matching.match` gives (the same
        :func:`matching.explained` over the checks rebuilt from the kept bits)."""
        results = []
        for check in self.checks:
            node = check.node
            known = bool(_bit(check.known, i))
            met: bool | None = bool(_bit(check.met, i))
            if node["op"] != "exists" and not known:
                met = None
            col = columns.get(node["fact"])
            actual = _python(col.values[i]) if col is not None and known else None
            results.append(
                CheckResult(
                    node["label"],
                    node.get("clause"),
                    node["fact"],
                    node["op"],
                    check.required,
                    actual,
                    known,
                    met,
                )
            )
        return matching.explained(self.policy, self.eligible(i), results, self.amount_of(i))


def _bit(packed: npt.NDArray[np.uint8], i: int) -> int:
    return (int(packed[i >> 3]) >> (7 - (i & 7))) & 1


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class _Evaluation:
    def __init__(
        self, columns: Mapping[str, Column], size: int, parameters: Mapping[str, Any], on: date
    ) -> None:
        self.columns = columns
        self.size = size
        self.parameters = parameters
        self.on = on
        self.checks: list[CheckBits] = []
        self.keep = True

    def column(self, name: str) -> Column:
        found = self.columns.get(name)
        if found is None:
            return Column(np.zeros(self.size, dtype=np.int64), np.zeros(self.size, dtype=bool))
        return found

    def condition(self, node: Mapping[str, Any]) -> tuple[Mask, Mask | None]:
        """(true, unknown) masks, as :func:`rules.evaluate`; unknown None: nowhere."""
        if "all" in node:
            parts = [self.condition(p) for p in node["all"]]
            true = np.logical_and.reduce([t for t, _u in parts])
            unknowns = [u for _t, u in parts if u is not None]
            if not unknowns:
                return true, None
            # false where a part is false: neither true nor unknown there
            false = np.logical_or.reduce([~t & ~u if u is not None else ~t for t, u in parts])
            unknown = np.logical_or.reduce(unknowns) & ~false
            return true & ~false & ~unknown, unknown
        if "any" in node:
            parts = [self.condition(p) for p in node["any"]]
            true = np.logical_or.reduce([t for t, _u in parts])
            unknowns = [u for _t, u in parts if u is not None]
            if not unknowns:
                return true, None
            return true, np.logical_or.reduce(unknowns) & ~true
        if "not" in node:
            t, u = self.condition(node["not"])
            return (~t, None) if u is None else (~t & ~u, u)
        return self.check(node)

    def check(self, node: Mapping[str, Any]) -> tuple[Mask, Mask | None]:
        op = node["op"]
        required = (
            parameter(self.parameters, node["param"], self.on)
            if "param" in node
            else node.get("value")
        )
        col = self.column(node["fact"])
        if op == "exists":
            true, unknown = col.known, None
        else:
            true = _met(op, col, required)
            unknown = None if col.all_known else ~col.known
        if self.keep:
            self.checks.append(CheckBits(node, required, col.packed_known, np.packbits(true)))
        return true, unknown

    def amount(self, node: Mapping[str, Any]) -> tuple[Fen, Mask]:
        """(fen, known) arrays, as :func:`amounts.compute`."""
        size, on, parameters = self.size, self.on, self.parameters
        if "fixed" in node:
            fixed = amounts.number(node["fixed"], parameters, on)
            if fixed is None:
                return np.zeros(size, dtype=np.int64), np.zeros(size, dtype=bool)
            fen = amounts.fen(fixed)
            return np.full(size, fen, dtype=_narrow(fen, fen)), np.ones(size, dtype=bool)
        of = node.get("of") or (node.get("brackets") or {}).get("of")
        if isinstance(of, str) and ("rate" in node or "brackets" in node):
            tabled = self._tabled(node, of)
            if tabled is not None:
                return tabled
        if "rate" in node:
            exact = self._rate(node)
            if exact is not None:
                return exact
        elif "brackets" in node:
            col = self.column(node["brackets"]["of"])
            if col.numeric:
                out = np.zeros(size, dtype=np.int64)
                for step in node["brackets"]["steps"]:
                    start = amounts.number(step["from"], parameters, on)
                    reached = amounts.number(step["amount"], parameters, on)
                    if start is not None:
                        paid = 0 if reached is None else amounts.fen(reached)
                        out = np.where(col.values >= float(start), paid, out)
                return out, col.known.copy()
        elif "table" in node:
            out = np.zeros(size, dtype=np.int64)
            known = np.ones(size, dtype=bool)
            open_ = np.ones(size, dtype=bool)
            keep, self.keep = self.keep, False
            try:
                for row in node["table"]:
                    t, maybe_u = self.condition(row["when"])
                    u = np.zeros(size, dtype=bool) if maybe_u is None else maybe_u
                    row_amount, row_known = self.amount(row["amount"])
                    known &= ~(open_ & u)
                    take = open_ & t
                    out = np.where(take, row_amount, out)
                    known &= ~(take & ~row_known)
                    open_ &= ~t & ~u
                if "otherwise" in node:
                    rest, rest_known = self.amount(node["otherwise"])
                    out = np.where(open_, rest, out)
                    known &= ~(open_ & ~rest_known)
            finally:
                self.keep = keep
            return out, known
        return self._scalar(node)

    def _tabled(self, node: Mapping[str, Any], of: str) -> tuple[Fen, Mask] | None:
        """An amount of one integer fact with few distinct values: the scalar formula for
        each value once, then looked up (exact by construction)."""
        col = self.column(of)
        span = col.span
        if span is None or span[0] < 0 or span[1] >= _AMOUNT_TABLE_LIMIT:
            return None
        table = np.zeros(span[1] + 1, dtype=np.int64)
        known = np.zeros(span[1] + 1, dtype=bool)
        for value in range(span[1] + 1):
            fen = amounts.compute(node, {of: value}, self.parameters, self.on)
            if fen is not None:
                table[value], known[value] = fen, True
        table = table.astype(_narrow(int(table.min()), int(table.max())))
        return table[col.index], known[col.index] & col.known

    def _rate(self, node: Mapping[str, Any]) -> tuple[Fen, Mask] | None:
        """rate × fact, capped, in exact integers when the fact is an integer column."""
        on, parameters = self.on, self.parameters
        rate = amounts.number(node["rate"], parameters, on)
        cap = amounts.number(node.get("cap"), parameters, on) if "cap" in node else None
        col = self.column(node["of"])
        span = col.span
        if rate is None or span is None or rate < 0:
            return None
        if cap is not None and cap != cap.to_integral_value():
            return None
        ratio = Fraction(rate)
        num, den = ratio.numerator, ratio.denominator
        largest = max(abs(span[0]), abs(span[1]))
        if largest * num * 2 + den >= _FLOAT_EXACT:
            return None
        # half up (away from zero) of num × base / den: floor((2·num·|base| + den) / 2·den),
        # exact in float64 because every operand and the numerator are integers < 2**53
        base = col.index.astype(np.float64)
        magnitude = np.floor((2.0 * num * np.abs(base) + den) / (2.0 * den))
        out = np.copysign(magnitude, base) if span[0] < 0 else magnitude
        if cap is not None:
            out = np.minimum(out, int(cap))
        return out.astype(np.int64), col.known.copy()

    def _scalar(self, node: Mapping[str, Any]) -> tuple[Fen, Mask]:
        """Element by element, for what the exact paths do not cover."""
        names = sorted(facts_read(node))
        cols = [self.column(n) for n in names]
        out = np.zeros(self.size, dtype=np.int64)
        known = np.zeros(self.size, dtype=bool)
        for i in range(self.size):
            row = {n: _python(c.values[i]) for n, c in zip(names, cols, strict=True) if c.known[i]}
            value = amounts.compute(node, row, self.parameters, self.on)
            if value is not None:
                out[i], known[i] = value, True
        return out, known


def match_columns(
    policy: Document, columns: Mapping[str, Column], size: int, on: date
) -> PolicyBatch:
    """Match one policy against ``size`` subjects given as columns."""
    evaluation = _Evaluation(columns, size, policy.get("parameters") or {}, on)
    true, maybe_unknown = evaluation.condition(policy["conditions"])
    if policy.get("amount") is not None and true.any():
        amount, amount_known = evaluation.amount(policy["amount"])
    else:
        amount, amount_known = np.zeros(size, dtype=np.int8), np.zeros(size, dtype=bool)
    return PolicyBatch(
        policy,
        size,
        true,
        maybe_unknown,
        amount,
        None if amount_known.all() else amount_known,
        evaluation.checks,
    )
