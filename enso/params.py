"""Checks of parameters: component parameters, protocol options and config keys.

Each raises ValueError naming the parameter; ``enso.registry.build`` and ``enso.config`` turn
it into a one-line ConfigError before any work starts. ``check_params`` refuses a parameter
a component does not take, with the closest valid name; ``validate_params`` checks values
against declared ``Constraint``s, the one validator of featurizers, targets, protocol options
and the keys of an experiment config.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from enso.errors import UnknownNameError, unknown_name_message


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_int(name: str, value: Any, minimum: int = 1, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")  # noqa: TRY004 - build() maps it


def check_number(name: str, value: Any, low: float, high: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")


def check_positive(name: str, value: Any, *, integer: bool = False, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        what = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name} must be {what}, got {value!r}")


def check_grid(name: str, values: Any, *, positive: bool = True, kind=(int, float)) -> tuple:
    """A non-empty tuple of numbers; raises ValueError naming the parameter."""
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        values = (values,)
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"{name} must be a non-empty list of numbers, got {values!r}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ValueError(f"{name} must hold numbers, got {value!r}")  # noqa: TRY004 - build() maps it to ConfigError
        if positive and value <= 0:
            raise ValueError(f"{name} must hold positive numbers, got {value!r}")
    return tuple(values)


# -- Declared parameters -----------------------------------------------------------------
# A component declares ``_parameter_constraints = {"name": constraint, ...}`` once, in the
# spirit of scikit-learn; ``validate_params`` checks a parameter dict against it with the
# messages of the check functions above. ``__init__`` then only stores, so ``set_params``
# and ``clone`` behave as in scikit-learn and every value is checked in one place.


class Constraint:
    """One parameter's rule: ``check(name, value)`` raises ValueError naming the parameter."""

    def check(self, name: str, value: Any) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        """What a valid value is, as the end of "NAME must be ..." (used by ``AnyOf``)."""
        return "valid"


class Positive(Constraint):
    def __init__(self, *, integer: bool = False, allow_none: bool = False):
        self.integer, self.allow_none = integer, allow_none

    def check(self, name, value):
        check_positive(name, value, integer=self.integer, allow_none=self.allow_none)

    def describe(self):
        return "a positive integer" if self.integer else "a positive number"


class Integer(Constraint):
    def __init__(self, minimum: int = 1, *, maximum: int | None = None, allow_none: bool = False):
        self.minimum, self.maximum, self.allow_none = minimum, maximum, allow_none

    def check(self, name, value):
        check_int(name, value, minimum=self.minimum, allow_none=self.allow_none)
        if value is not None and self.maximum is not None and value > self.maximum:
            raise ValueError(f"{name} must be an integer <= {self.maximum}, got {value!r}")

    def describe(self):
        return f"an integer >= {self.minimum}"


class Seed(Integer):
    """``None`` (fresh randomness) or a seed that numpy and scikit-learn both take."""

    def __init__(self):
        super().__init__(0, maximum=2**32 - 1, allow_none=True)


class Number(Constraint):
    """A number in ``[low, high]``; ``low_open``/``high_open`` leave out an end."""

    def __init__(self, low: float, high: float, *, low_open: bool = False, high_open: bool = False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def check(self, name, value):
        if not (self.low_open or self.high_open):
            check_number(name, value, self.low, self.high)
            return
        number = not isinstance(value, bool) and isinstance(value, (int, float))
        above = number and (value > self.low if self.low_open else value >= self.low)
        below = number and (value < self.high if self.high_open else value <= self.high)
        if not (above and below):
            raise ValueError(f"{name} must be in {self._interval()}, got {value!r}")

    def _interval(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"

    def describe(self):
        return f"a number in {self._interval()}"


class Choice(Constraint):
    def __init__(self, *choices: Any):
        self.choices = choices

    def check(self, name, value):
        check_choice(name, value, self.choices)

    def describe(self):
        return f"one of {', '.join(map(repr, self.choices))}"


class Bool(Constraint):
    def check(self, name, value):
        check_bool(name, value)


class Grid(Constraint):
    """A non-empty list of (by default positive) numbers; a single number counts as a list of one."""

    def __init__(self, *, positive: bool = True, kind=(int, float)):
        self.positive, self.kind = positive, kind

    def check(self, name, value):
        check_grid(name, value, positive=self.positive, kind=self.kind)


class AnyOf(Constraint):
    """Valid when one of ``constraints`` accepts the value."""

    def __init__(self, *constraints: Constraint):
        self.constraints = constraints

    def check(self, name, value):
        for constraint in self.constraints:
            try:
                constraint.check(name, value)
                return
            except ValueError:
                continue
        raise ValueError(f"{name} must be {self.describe()}, got {value!r}")

    def describe(self):
        return " or ".join(constraint.describe() for constraint in self.constraints)


class ListOf(Constraint):
    """A non-empty list whose every item passes ``item``."""

    def __init__(self, item: Constraint):
        self.item = item

    def check(self, name, value):
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"{name} must be a non-empty list, got {value!r}")
        for entry in value:
            self.item.check(f"each entry of {name}", entry)


class Registered(Constraint):
    """A name in a registry (case-insensitive, aliases allowed); the registry is looked up when checked.

    ``registry`` is ``"module:ATTRIBUTE"`` so that declaring the constraint imports nothing.
    """

    def __init__(self, registry: str):
        self.registry = registry

    def check(self, name, value):
        import importlib

        from enso.errors import UnknownNameError

        module, _, attribute = self.registry.partition(":")
        registry = getattr(importlib.import_module(module), attribute)
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a {registry.kind} name, got {value!r}")  # noqa: TRY004 - build() maps it
        try:
            registry.canonical(value)
        except UnknownNameError as exc:
            raise ValueError(f"{name}: {exc}") from None


class AllOf(Constraint):
    """Valid when every one of ``constraints`` accepts the value; the first refusal's message is raised."""

    def __init__(self, *constraints: Constraint):
        self.constraints = constraints

    def check(self, name, value):
        for constraint in self.constraints:
            constraint.check(name, value)

    def describe(self):
        return " and ".join(constraint.describe() for constraint in self.constraints)


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut short for a long value, so an error message stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class Satisfies(Constraint):
    """Valid when ``test(value)`` is true; else ``message`` formatted with ``name``, ``value`` and ``shown``.

    For a rule with its own wording, e.g. ``Satisfies(lambda v: v <= 1000, "{name} = {value}
    is more than 1000")``; ``shown`` is the value's repr cut to one short line.
    """

    def __init__(self, test: Callable[[Any], bool], message: str, describe: str = "valid"):
        self.test, self.message, self.description = test, message, describe

    def check(self, name, value):
        if not self.test(value):
            raise ValueError(self.message.format(name=name, value=value, shown=shown(value)))

    def describe(self):
        return self.description


def validate_params(constraints: dict[str, Constraint], params: dict[str, Any]) -> None:
    """Check every declared parameter in ``params``; raises ValueError naming the first bad one."""
    for name, value in params.items():
        constraint = constraints.get(name)
        if constraint is not None:
            constraint.check(name, value)


def check_names(what: str, given: Sequence[str], accepted: Sequence[str]) -> None:
    """Refuse a name in ``given`` that is not ``accepted``: ``unknown WHAT 'x'; did you mean 'y'? (valid: ...)``."""
    for name in given:
        if name not in accepted:
            raise UnknownNameError(unknown_name_message(what, name, list(accepted)))


def accepted_params(factory: Callable) -> list[str] | None:
    """The keyword parameters ``factory`` takes (its signature and its declared constraints), or ``None`` for any."""
    declared = list(getattr(factory, "_parameter_constraints", None) or {})
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return declared or None
    if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    named = [p.name for p in signature.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
    return named + [name for name in declared if name not in named]


def check_params(kind: str, name: str, factory: Callable, params: dict) -> None:
    """Refuse parameters that ``factory`` does not take, naming the closest valid one."""
    accepted = accepted_params(factory)
    if accepted is None:
        return
    if not accepted:
        for key in params:
            raise UnknownNameError(f"{kind} {name!r} takes no parameters, got {key!r}")
    check_names(f"parameter of {kind} {name!r}:", list(params), accepted)
