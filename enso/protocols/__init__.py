"""Evaluation protocols: how an experiment's datasets become cells.

``PROTOCOLS`` maps names to ``Protocol`` objects: ``enso`` (learning curves, the default),
``mteb`` (MTEB's classification protocol, exactly) and ``senteval`` (SentEval's). A config
names one with ``protocol = "..."`` and sets its options in ``protocol_options``; the
protocol checks them (``check_options``, against its declared ``_parameter_constraints``), may
map the config's datasets to the ones it runs (``resolve_datasets``) and adds each dataset's
cells to the plan (``build``), made of ``Draw``s and ``Skip``s (``enso.protocols.base``).

A third-party protocol subclasses ``enso.protocols.Protocol`` in its own module and is
registered from its package (the entry point may name the class or an instance)::

    [project.entry-points."enso.protocols"]
    my-protocol = "my_package.protocols:MyProtocol"
"""

from __future__ import annotations

import logging

from enso.protocols.base import Draw, Protocol, Skip
from enso.protocols.enso import EnsoProtocol
from enso.protocols.mteb import MTEBProtocol
from enso.protocols.senteval import SentEvalProtocol
from enso.registry import Registry

log = logging.getLogger(__name__)


class ProtocolRegistry(Registry[Protocol]):
    """Protocol instances by name; a plug-in entry point may give the class, which is instantiated once."""

    def _register_plugin(self, entry, obj) -> None:
        if isinstance(obj, type) and issubclass(obj, Protocol):
            try:
                obj = obj()
            except Exception as exc:  # a broken plug-in must not take the tool down
                log.warning("could not create %s plug-in %r from %s: %s", self.kind, entry.name, entry.value, exc)
                return
        if not isinstance(obj, Protocol):
            log.warning("ignoring %s plug-in %r from %s: not an enso.protocols.Protocol", self.kind, entry.name,
                        entry.value)
            return
        if obj.name != entry.name:
            obj.name = entry.name  # the registered name is the one configs use and cells record
        super()._register_plugin(entry, obj)


PROTOCOLS: ProtocolRegistry = ProtocolRegistry("protocol", "enso.protocols")
for _protocol in (EnsoProtocol(), MTEBProtocol(), SentEvalProtocol()):
    PROTOCOLS.register(_protocol.name, _protocol)

__all__ = ["PROTOCOLS", "Draw", "EnsoProtocol", "MTEBProtocol", "Protocol", "ProtocolRegistry", "SentEvalProtocol",
           "Skip"]
