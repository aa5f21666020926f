"""Handlers turn a batch of requests into a batch of responses inside a worker.

Built-in handlers are registered under the ``openmaker.handlers`` entry-point
group; an archive may also name its own class as ``module:Class`` (the module
is looked up in the archive's ``code/`` directory).
"""

from openmaker.serving.handlers.base import Context, Handler, load_handler_class

__all__ = ["Context", "Handler", "load_handler_class"]
