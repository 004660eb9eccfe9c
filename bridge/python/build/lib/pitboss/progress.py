"""A one-line progress bar on stderr, drawn only when stderr is a terminal."""
import sys
import time

__all__ = ["ProgressBar", "print_progress_bar"]


def print_progress_bar(done, total, *, prefix="", width=30, stream=None, elapsed=None):
    """Draws `prefix [#####.....] done/total (pct) rate` on one line of stream (default stderr)."""
    stream = stream or sys.stderr
    frac = done / total if total else 1.0
    filled = int(width * frac)
    rate = f" {done / elapsed:.0f}/s" if elapsed else ""
    stream.write(f"\r{prefix}[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({100 * frac:.0f}%){rate}")
    if done >= total:
        stream.write("\n")
    stream.flush()


class ProgressBar:
    def __init__(self, total, prefix="", stream=None, enabled=None, min_interval=0.1):
        self.total = total
        self.prefix = prefix
        self.stream = stream or sys.stderr
        self.enabled = enabled if enabled is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.started = time.monotonic()
        self._last = 0.0
        self.min_interval = min_interval

    def update(self, n=1):
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if self.done >= self.total or now - self._last >= self.min_interval:
            self._last = now
            print_progress_bar(self.done, self.total, prefix=self.prefix, stream=self.stream,
                               elapsed=now - self.started)
