"""A handler module whose shutdown hook never returns: its worker ignores SIGTERM for good."""
import time

import pitboss


@pitboss.command
def noop():
    return None


@pitboss.on_shutdown
def never_done():
    while True:
        time.sleep(1)
