"""pitboss: the Python side of the pitboss worker-pool supervisor.

Inside workers (standard library only): register command handlers with @pitboss.command,
receive a pitboss.Context, hook start-up and shut-down with @pitboss.on_startup/@pitboss.on_shutdown.
"""
from .handlers import CommandSpec, Context, command, on_shutdown, on_startup

__version__ = "0.1.0"

__all__ = ["command", "on_startup", "on_shutdown", "Context", "CommandSpec", "__version__"]
