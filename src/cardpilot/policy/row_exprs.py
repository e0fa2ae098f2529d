"""The policy's expressions on one row, in plain Python: the few parts of the Polars
expression language that the decision's plan is written in (``col``, ``lit``, ``when``,
arithmetic, comparisons, ``fill_null``, ``replace_strict``, ``clip``, the horizontal and list
operations), with Polars' semantics for one value.

The plan of ``policy.limits`` is generated once from the policy, by functions that take the
expression namespace as an argument: ``polars`` for a frame (the review, Spark), this module
for one account (the HTTP service), where a frame's per-call overhead costs milliseconds and
the row's work microseconds. So there is one plan, built from the one policy, in two forms;
tests/policy/test_row_decisions.py holds the two equal over random rows and every shipped
policy.

The semantics kept: null in, null out for arithmetic and comparisons; Kleene ``&``/``|``;
``when`` treats a null condition as false; integer ``//`` and ``%`` floor, and give null on a
zero divisor; float ``//`` and ``%`` floor the rounded quotient; ``clip`` ignores a null bound;
``min_horizontal``/``max_horizontal``/``coalesce`` skip nulls.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import polars as pl

Row = Mapping[str, Any]
Fn = Callable[[Row], Any]
# A Polars expression or a ``RowExpr``: what the plan's functions build, by the namespace given.
Expr = Any

_NO_DEFAULT = object()


def _fn(value: Any) -> Fn:
    """An operand: an expression, else a literal (as Polars takes a string beside an operator)."""
    if isinstance(value, RowExpr):
        return value.fn
    return lambda _row: value


def _input(value: Any) -> Fn:
    """An input of ``then``, ``coalesce`` and the horizontal functions: a string is a column."""
    return col(value).fn if isinstance(value, str) else _fn(value)


def _floordiv(a: Any, b: Any) -> Any:
    if b == 0:  # integers: null; floats: IEEE's infinity or NaN
        return None if isinstance(a, int) and isinstance(b, int) else _truediv(a, b)
    if isinstance(a, float) or isinstance(b, float):
        return _floor(a / b)
    return a // b


def _mod(a: Any, b: Any) -> Any:
    if b == 0:
        return None if isinstance(a, int) and isinstance(b, int) else math.nan
    if isinstance(a, float) or isinstance(b, float):
        return a - b * _floor(a / b)
    return a % b


def _floor(q: float) -> float:
    """Polars' float floor of a quotient: ``a // b`` on floats is ``floor(a / b)`` there, where
    Python's floors the exact quotient (1.0 // 0.1 is 10.0 in Polars, 9.0 in Python); the sign
    of a zero and infinities are kept."""
    if not math.isfinite(q):
        return q
    floored = float(math.floor(q))
    return math.copysign(0.0, q) if floored == 0 else floored


def _truediv(a: Any, b: Any) -> Any:
    if b == 0:  # IEEE division, as Polars divides
        return (
            math.nan
            if a == 0 or math.isnan(a)
            else math.copysign(math.inf, a) * (math.copysign(1.0, b))
        )
    return a / b


def _binary(op: Callable[[Any, Any], Any], left: Any, right: Any) -> RowExpr:
    lf, rf = _fn(left), _fn(right)

    def run(row: Row) -> Any:
        a = lf(row)
        if a is None:
            return None
        b = rf(row)
        return None if b is None else op(a, b)

    return RowExpr(run)


def _and(a: Any, b: Any) -> Any:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: Any, b: Any) -> Any:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _kleene(op: Callable[[Any, Any], Any], left: Any, right: Any) -> RowExpr:
    lf, rf = _fn(left), _fn(right)
    return RowExpr(lambda row: op(_truth(lf(row)), _truth(rf(row))))


def _truth(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _caster(dtype: Any) -> Callable[[Any], Any]:
    """A non-null value in the Polars type ``dtype`` (a class or an instance)."""
    kind = dtype if isinstance(dtype, type) else type(dtype)
    if kind in (pl.Int64, pl.Int32):
        return _to_int
    if kind is pl.Float64:
        return float
    if kind is pl.String:
        return str
    if kind is pl.Boolean:
        return bool
    if kind is pl.Date:
        return lambda v: v.date() if isinstance(v, dt.datetime) else v
    if kind is pl.List:
        inner = _caster(dtype.inner) if not isinstance(dtype, type) else (lambda v: v)
        return lambda v: [None if x is None else inner(x) for x in v]
    raise TypeError(f"no row cast to {dtype}")


def _to_int(value: Any) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot cast {value} to an integer")
    return int(value)


def cast_value(value: Any, dtype: Any) -> Any:
    """``value`` as Polars would hold it in a column of ``dtype`` (None stays None)."""
    return None if value is None else _caster(dtype)(value)


class RowExpr:
    """One expression over a row (a mapping of column names to values), with a name."""

    __slots__ = ("fn", "name")

    def __init__(self, fn: Fn, name: str | None = None) -> None:
        self.fn = fn
        self.name = name

    def __call__(self, row: Row) -> Any:
        return self.fn(row)

    def alias(self, name: str) -> RowExpr:
        return RowExpr(self.fn, name)

    def __add__(self, other: Any) -> RowExpr:
        return _binary(operator.add, self, other)

    def __radd__(self, other: Any) -> RowExpr:
        return _binary(operator.add, other, self)

    def __sub__(self, other: Any) -> RowExpr:
        return _binary(operator.sub, self, other)

    def __rsub__(self, other: Any) -> RowExpr:
        return _binary(operator.sub, other, self)

    def __mul__(self, other: Any) -> RowExpr:
        return _binary(operator.mul, self, other)

    def __rmul__(self, other: Any) -> RowExpr:
        return _binary(operator.mul, other, self)

    def __floordiv__(self, other: Any) -> RowExpr:
        return _binary(_floordiv, self, other)

    def __rfloordiv__(self, other: Any) -> RowExpr:
        return _binary(_floordiv, other, self)

    def __truediv__(self, other: Any) -> RowExpr:
        return _binary(_truediv, self, other)

    def __mod__(self, other: Any) -> RowExpr:
        return _binary(_mod, self, other)

    def __lt__(self, other: Any) -> RowExpr:
        return _binary(operator.lt, self, other)

    def __le__(self, other: Any) -> RowExpr:
        return _binary(operator.le, self, other)

    def __gt__(self, other: Any) -> RowExpr:
        return _binary(operator.gt, self, other)

    def __ge__(self, other: Any) -> RowExpr:
        return _binary(operator.ge, self, other)

    def __eq__(self, other: Any) -> RowExpr:  # type: ignore[override]
        return _binary(operator.eq, self, other)

    def __ne__(self, other: Any) -> RowExpr:  # type: ignore[override]
        return _binary(operator.ne, self, other)

    __hash__ = None  # type: ignore[assignment]

    def __and__(self, other: Any) -> RowExpr:
        return _kleene(_and, self, other)

    def __rand__(self, other: Any) -> RowExpr:
        return _kleene(_and, other, self)

    def __or__(self, other: Any) -> RowExpr:
        return _kleene(_or, self, other)

    def __ror__(self, other: Any) -> RowExpr:
        return _kleene(_or, other, self)

    def __invert__(self) -> RowExpr:
        f = self.fn
        return RowExpr(lambda row: None if (v := f(row)) is None else not v)

    def is_null(self) -> RowExpr:
        f = self.fn
        return RowExpr(lambda row: f(row) is None)

    def is_not_null(self) -> RowExpr:
        f = self.fn
        return RowExpr(lambda row: f(row) is not None)

    def fill_null(self, value: Any) -> RowExpr:
        f, g = self.fn, _fn(value)
        return RowExpr(lambda row: g(row) if (v := f(row)) is None else v)

    def floor(self) -> RowExpr:
        f = self.fn

        def run(row: Row) -> Any:
            v = f(row)
            return v if v is None or not math.isfinite(v) else float(math.floor(v))

        return RowExpr(run)

    def clip(self, lower: Any = None, upper: Any = None) -> RowExpr:
        f, lo, hi = self.fn, _fn(lower), _fn(upper)

        def run(row: Row) -> Any:
            v = f(row)
            if v is None:
                return None
            low, high = lo(row), hi(row)
            # As Polars compares: below the lower bound, else above the upper one (which
            # matters only when the lower bound is above the upper one).
            if low is not None and v < low:
                return low
            if high is not None and v > high:
                return high
            return v

        return RowExpr(run)

    def cast(self, dtype: Any) -> RowExpr:
        f, to = self.fn, _caster(dtype)
        return RowExpr(lambda row: None if (v := f(row)) is None else to(v))

    def is_in(self, values: Any) -> RowExpr:
        members = values({}) if isinstance(values, RowExpr) else values
        f, held = self.fn, list(members)
        return RowExpr(lambda row: None if (v := f(row)) is None else v in held)

    def replace_strict(
        self,
        mapping: Mapping[Any, Any],
        *,
        default: Any = _NO_DEFAULT,
        return_dtype: Any = None,
    ) -> RowExpr:
        f = self.fn
        table = {k: cast_value(v, return_dtype) if return_dtype else v for k, v in mapping.items()}
        strict = default is _NO_DEFAULT
        other = _fn(None if strict else default)

        def run(row: Row) -> Any:
            key = f(row)
            if key is None:
                return None
            if key in table:
                return table[key]
            if strict:
                raise ValueError(f"replace_strict: no value for {key!r}")
            return other(row)

        return RowExpr(run)

    @property
    def dt(self) -> _DateParts:
        return _DateParts(self.fn)

    @property
    def list(self) -> _ListOps:
        return _ListOps(self.fn)


class _DateParts:
    def __init__(self, fn: Fn) -> None:
        self._fn = fn

    def _part(self, name: str) -> RowExpr:
        f = self._fn
        return RowExpr(lambda row: None if (v := f(row)) is None else getattr(v, name))

    def year(self) -> RowExpr:
        return self._part("year")

    def month(self) -> RowExpr:
        return self._part("month")

    def day(self) -> RowExpr:
        return self._part("day")


_ELEMENT = "__element__"


class _ListOps:
    def __init__(self, fn: Fn) -> None:
        self._fn = fn

    def _map(self, op: Callable[[list[Any]], Any]) -> RowExpr:
        f = self._fn
        return RowExpr(lambda row: None if (v := f(row)) is None else op(v))

    def drop_nulls(self) -> RowExpr:
        return self._map(lambda v: [x for x in v if x is not None])

    def unique(self, *, maintain_order: bool = False) -> RowExpr:
        if not maintain_order:
            raise ValueError("one row's unique keeps the order: give maintain_order=True")
        return self._map(lambda v: list(dict.fromkeys(v)))

    def head(self, n: int) -> RowExpr:
        return self._map(lambda v: v[:n])

    def eval(self, expr: RowExpr) -> RowExpr:
        each = expr.fn
        return self._map(lambda v: [each({_ELEMENT: x}) for x in v])


def col(name: str) -> RowExpr:
    return RowExpr(operator.itemgetter(name), name)


def element() -> RowExpr:
    return col(_ELEMENT)


def lit(value: Any, dtype: Any = None) -> RowExpr:
    held = cast_value(value, dtype) if dtype is not None else value
    return RowExpr(lambda _row: held)


class _Then(RowExpr):
    """``when(...).then(...)`` chains: the first branch whose condition is true; null else."""

    __slots__ = ("branches",)

    def __init__(self, branches: list[tuple[Fn, Fn]], otherwise: Fn | None = None) -> None:
        self.branches = branches
        pairs = tuple(branches)

        def run(row: Row) -> Any:
            for cond, value in pairs:
                if cond(row):  # a null condition is false
                    return value(row)
            return None if otherwise is None else otherwise(row)

        super().__init__(run)

    def when(self, condition: Any) -> _When:
        return _When(self.branches, condition)

    def otherwise(self, value: Any) -> RowExpr:
        return RowExpr(_Then(self.branches, _input(value)).fn)


class _When:
    def __init__(self, branches: list[tuple[Fn, Fn]], condition: Any) -> None:
        self._branches = branches
        self._condition = _fn(condition)

    def then(self, value: Any) -> _Then:
        return _Then([*self._branches, (self._condition, _input(value))])


def when(condition: Any) -> _When:
    return _When([], condition)


def _exprs(args: Sequence[Any]) -> list[Fn]:
    items: Iterable[Any] = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    return [_input(a) for a in items]


def coalesce(*exprs: Any) -> RowExpr:
    fns = _exprs(exprs)

    def run(row: Row) -> Any:
        for f in fns:
            v = f(row)
            if v is not None:
                return v
        return None

    return RowExpr(run)


def _horizontal(pick: Callable[[list[Any]], Any], exprs: Sequence[Any]) -> RowExpr:
    fns = _exprs(exprs)

    def run(row: Row) -> Any:
        values = [v for f in fns if (v := f(row)) is not None]
        return pick(values) if values else None

    return RowExpr(run)


def min_horizontal(*exprs: Any) -> RowExpr:
    return _horizontal(min, exprs)


def max_horizontal(*exprs: Any) -> RowExpr:
    return _horizontal(max, exprs)


def _fold(op: Callable[[Any, Any], Any], start: bool, stop: bool, exprs: Sequence[Any]) -> RowExpr:
    """Kleene ``op`` over the inputs from ``start``, done early once it reaches ``stop``."""
    fns = _exprs(exprs)

    def run(row: Row) -> Any:
        out: bool | None = start
        for f in fns:
            out = op(out, _truth(f(row)))
            if out is stop:
                return stop
        return out

    return RowExpr(run)


def any_horizontal(*exprs: Any) -> RowExpr:
    return _fold(_or, False, True, exprs)


def all_horizontal(*exprs: Any) -> RowExpr:
    return _fold(_and, True, False, exprs)


def concat_list(exprs: Sequence[Any]) -> RowExpr:
    fns = _exprs(exprs)

    def run(row: Row) -> Any:
        out: list[Any] = []
        for f in fns:
            v = f(row)
            if isinstance(v, list):
                out.extend(v)
            else:
                out.append(v)
        return out

    return RowExpr(run)
