"""A one-line progress bar on stderr, drawn only when stderr is a terminal."""
import sys
import time

__all__ = ["ProgressBar", "print_progress_bar"]


_last_drawn = {}


def print_progress_bar(done, total, *, prefix="", width=30, stream=None, elapsed=None, min_interval=0.1):
    """Draws `prefix [#####.....] done/total (pct) rate` on one line of stream (default stderr), only
    when the stream is a terminal (a log file gets no carriage-return noise), and at most once per
    min_interval seconds per stream (the last step, done == total, is always drawn)."""
    stream = stream or sys.stderr
    if not getattr(stream, "isatty", lambda: False)():
        return
    now = time.monotonic()
    key = id(stream)
    if done < total and now - _last_drawn.get(key, -1e9) < min_interval:
        return
    _last_drawn[key] = now
    _draw(done, total, prefix=prefix, width=width, stream=stream, elapsed=elapsed)


def _draw(done, total, *, prefix="", width=30, stream, elapsed=None):
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
            _draw(self.done, self.total, prefix=self.prefix, stream=self.stream, elapsed=now - self.started)
