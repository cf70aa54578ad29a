"""In-kernel streaming observers (see :mod:`simdyn.observe.base` for the protocol)."""

from .base import Observer

__all__ = ["Observer"]
