"""The web console ``openmaker up`` serves on ``console_port`` (default 8090).

It shows the running services, every model version with its workers and
queue, and links to the pages each installed room contributes. It never
imports a room: ``create_console_app`` is handed ``Room`` objects.
"""

from openmaker.console.app import create_console_app

__all__ = ["create_console_app"]
