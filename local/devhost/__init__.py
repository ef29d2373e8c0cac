"""The dev host: runs function_app.py's functions from their declared bindings, like the Functions host."""

from __future__ import annotations

from local.devhost.host import HostOptions, serve

__all__ = ["HostOptions", "serve"]
