"""What every evaluation protocol is: a name, its options with their defaults, and a cell builder.

A protocol turns one dataset of an experiment into cells, each added through
``plan.add_cell(...)``: which rows a target is fitted on, which it is scored on, and (where the
protocol says so) which rows an in-domain featurizer learns from (``fit_rows``) and which given
validation rows choose the target's hyperparameters (``validation_rows``).

Options are declared once: ``defaults`` names every option and its default, ``checks`` maps an
option to a function that raises ``ValueError`` with a message naming the option. A config's
``protocol_options`` is checked against both before any work starts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

from enso.errors import ConfigError
from enso.params import check_int

OptionCheck = Callable[[str, Any], None]


def check_min_int(minimum: int) -> OptionCheck:
    """An option that must be an integer >= ``minimum``."""

    def check(name: str, value: Any) -> None:
        check_int(name, value, minimum)

    return check


def check_positive_list(name: str, value: Any) -> None:
    """A non-empty list of positive numbers (a hyperparameter grid)."""
    if not isinstance(value, list) or not value or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value):
        raise ValueError(f"{name} must be a non-empty list of positive numbers, got {value!r}")


class Protocol:
    """An evaluation protocol; subclasses set ``name``, ``description``, ``defaults``, ``checks`` and ``build``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: every option of the protocol and its default; an option not named here is refused
    defaults: ClassVar[dict[str, Any]] = {}
    #: option -> check raising ValueError (options without one are taken as given)
    checks: ClassVar[dict[str, OptionCheck]] = {}

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` merged over the defaults; ``ConfigError`` on an unknown or bad option."""
        if not isinstance(options, dict):
            raise ConfigError("protocol_options must be a table")
        for key in options:
            if key not in self.defaults:
                valid = ", ".join(sorted(self.defaults)) or "none"
                raise ConfigError(f"protocol_options: {key!r} is not an option of protocol {self.name!r} "
                                  f"(valid: {valid})")
        for key, value in options.items():
            check = self.checks.get(key)
            if check is not None:
                try:
                    check(key, value)
                except ValueError as exc:
                    raise ConfigError(f"protocol_options: {exc}") from exc
        return {**copy.deepcopy(self.defaults), **options}

    def resolve_datasets(self, names: list[str]) -> list[str]:
        """The datasets this protocol runs for the config's ``names`` (default: the same)."""
        return list(names)

    def build(self, config, dataset, plan) -> None:
        """Add ``dataset``'s cells to ``plan`` with ``plan.add_cell(...)``."""
        raise NotImplementedError(f"protocol {self.name!r} does not build cells")

    def __repr__(self) -> str:
        return f"<protocol {self.name}>"
