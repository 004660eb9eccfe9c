"""Retry with backoff, and a circuit breaker. Both look at the typed errors (pitboss.errors), so a
wrapped error is still recognised as transient."""
import random
import threading
import time

import grpc

from .errors import CircuitOpen

__all__ = ["RetryPolicy", "CircuitBreaker", "TRANSIENT_CODES"]

#: Codes worth another attempt: the call did not run, or ran on a worker that died.
TRANSIENT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


class RetryPolicy:
    """Retries transient failures with exponential backoff and jitter.

    A call inside a session is not retried unless retry_sessions=True: the session's state may be
    gone with its worker, and a second attempt could act twice."""

    def __init__(self, max_attempts=3, initial_backoff=0.1, max_backoff=2.0, multiplier=2.0, jitter=0.2,
                 retry_on=TRANSIENT_CODES, retry_sessions=False):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.multiplier = multiplier
        self.jitter = jitter
        self.retry_on = frozenset(retry_on)
        self.retry_sessions = retry_sessions

    def should_retry(self, error, attempt, in_session=False):
        """attempt counts from 1: the attempt that just failed."""
        if attempt >= self.max_attempts or getattr(error, "code", None) not in self.retry_on:
            return False
        if getattr(error, "permanent", False):  # e.g. a circuit too large: another attempt cannot help
            return False
        return self.retry_sessions or not in_session

    def backoff(self, attempt):
        delay = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return max(0.0, delay * (1 + random.uniform(-self.jitter, self.jitter)))

    def __repr__(self):
        return (f"RetryPolicy(max_attempts={self.max_attempts}, initial_backoff={self.initial_backoff}, "
                f"max_backoff={self.max_backoff}, multiplier={self.multiplier})")


class CircuitBreaker:
    """closed -> open after failure_threshold consecutive failures; open -> half-open after
    reset_timeout seconds; half-open -> closed after success_threshold successes, or back to open on a
    failure. While open, calls fail at once with CircuitOpen. Thread-safe."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"

    def __init__(self, failure_threshold=5, success_threshold=1, reset_timeout=30.0, counts=TRANSIENT_CODES | {
            grpc.StatusCode.DEADLINE_EXCEEDED}, clock=time.monotonic):
        self.failure_threshold = failure_threshold
        self.success_threshold = success_threshold
        self.reset_timeout = reset_timeout
        self.counts = frozenset(counts)
        self._clock = clock
        self._lock = threading.Lock()
        self._state = self.CLOSED
        self._failures = 0
        self._successes = 0
        self._opened_at = 0.0

    @property
    def state(self):
        with self._lock:
            self._maybe_half_open()
            return self._state

    def _maybe_half_open(self):
        if self._state == self.OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._state = self.HALF_OPEN
            self._successes = 0

    def before_call(self):
        """Raises CircuitOpen while open."""
        with self._lock:
            self._maybe_half_open()
            if self._state == self.OPEN:
                left = self.reset_timeout - (self._clock() - self._opened_at)
                raise CircuitOpen(f"circuit breaker open after {self._failures} failures; retrying in {left:.1f} s")

    def record_success(self):
        with self._lock:
            if self._state == self.HALF_OPEN:
                self._successes += 1
                if self._successes >= self.success_threshold:
                    self._state = self.CLOSED
                    self._failures = 0
            else:
                self._failures = 0

    def record_failure(self, error):
        """Counts error if its code is one the breaker watches (a bad argument is not the server's fault)."""
        if getattr(error, "code", None) not in self.counts:
            self.record_success()
            return
        with self._lock:
            self._failures += 1
            if self._state == self.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = self.OPEN
                self._opened_at = self._clock()
