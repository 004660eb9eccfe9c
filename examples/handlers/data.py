"""Data examples: a CSV processed in chunks with running statistics, and a log file followed live."""
import collections
import csv
import os
import random
import re
import tempfile
import time

import pitboss

CATEGORIES = ["books", "electronics", "garden", "grocery", "toys"]
REGIONS = ["north", "south", "east", "west"]


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def make_sales_csv(rows, seed=42):
    """A sales ledger of `rows` rows (made once per size and cached in the temp folder)."""
    path = os.path.join(tempfile.gettempdir(), f"pitboss-sales-{rows}-{seed}.csv")
    if os.path.exists(path):
        return path
    rng = random.Random(seed)
    tmp = path + f".{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "category", "region", "quantity", "unit_price"])
        for i in range(rows):
            w.writerow([i, rng.choice(CATEGORIES), rng.choice(REGIONS), rng.randint(1, 9),
                        f"{rng.lognormvariate(3, 0.8):.2f}"])
    os.replace(tmp, path)
    return path


@pitboss.command
def process_large_dataset(file_path: str = "", rows: int = 100_000, chunk_size: int = 10_000,
                          ctx: pitboss.Context = None):
    """Reads a sales CSV (order_id, category, region, quantity, unit_price) in chunks of `chunk_size` rows
    and streams progress with running statistics and memory use; ends with the totals. Without
    file_path it makes a CSV of `rows` rows first."""
    path = file_path or make_sales_csv(rows)
    with open(path, newline="") as f:
        total = sum(1 for _ in f) - 1
    started = time.time()
    processed = bad = 0
    revenue = 0.0
    revenue_sq = 0.0
    largest = 0.0
    by_category = collections.Counter()
    by_region = collections.Counter()
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        chunk = []
        for row in reader:
            chunk.append(row)
            if len(chunk) < chunk_size:
                continue
            if ctx.cancelled:
                return
            processed, bad, revenue, revenue_sq, largest = _process(chunk, processed, bad, revenue, revenue_sq,
                                                                    largest, by_category, by_region)
            chunk = []
            yield _progress(processed, total, bad, revenue, revenue_sq, largest, started)
        if chunk:
            processed, bad, revenue, revenue_sq, largest = _process(chunk, processed, bad, revenue, revenue_sq,
                                                                    largest, by_category, by_region)
            yield _progress(processed, total, bad, revenue, revenue_sq, largest, started)
    good = processed - bad
    return {"processing_complete": True, "file_path": path,
            "final_stats": {"rows": processed, "bad_rows": bad, "revenue": round(revenue, 2),
                            "mean_order": round(revenue / good, 2) if good else 0, "largest_order": round(largest, 2),
                            "revenue_by_category": {k: round(v, 2) for k, v in sorted(by_category.items())},
                            "revenue_by_region": {k: round(v, 2) for k, v in sorted(by_region.items())}},
            "elapsed_s": round(time.time() - started, 3)}


def _process(chunk, processed, bad, revenue, revenue_sq, largest, by_category, by_region):
    for row in chunk:
        try:
            amount = int(row["quantity"]) * float(row["unit_price"])
        except (KeyError, TypeError, ValueError):
            bad += 1
            continue
        revenue += amount
        revenue_sq += amount * amount
        largest = max(largest, amount)
        by_category[row["category"]] += amount
        by_region[row["region"]] += amount
    return processed + len(chunk), bad, revenue, revenue_sq, largest


def _progress(processed, total, bad, revenue, revenue_sq, largest, started):
    good = processed - bad
    mean = revenue / good if good else 0.0
    std = max(0.0, revenue_sq / good - mean * mean) ** 0.5 if good else 0.0
    return {"processed_rows": processed, "total_rows": total,
            "progress_percent": round(100.0 * processed / total, 1) if total else 100.0,
            "running_stats": {"revenue": round(revenue, 2), "mean_order": round(mean, 2), "std_order": round(std, 2),
                              "largest_order": round(largest, 2), "bad_rows": bad},
            "memory_usage_mb": round(_rss_mb(), 1),
            "rows_per_s": round(processed / max(time.time() - started, 1e-9))}


SEVERITY = [("FATAL", "critical"), ("CRITICAL", "critical"), ("OutOfMemoryError", "critical"), ("ERROR", "error"),
            ("Exception", "error"), ("WARN", "warning")]


def _severity(line, pattern):
    for key, level in SEVERITY:
        if key in line or key == pattern:
            return level
    return "info"


@pitboss.command
def tail_and_analyze(log_path: str, patterns: list = None, context_lines: int = 2, from_start: bool = False,
                     poll_ms: int = 100, ctx: pitboss.Context = None):
    """Follows a growing log file (like tail -f) and streams each line that matches one of the
    patterns (regular expressions), with its severity and the lines before it; runs until cancelled."""
    regexes = [(p, re.compile(p)) for p in (patterns or ["FATAL", "ERROR", "OutOfMemoryError", "WARN"])]
    before = collections.deque(maxlen=max(0, context_lines))
    counts = collections.Counter()
    line_no = 0
    with open(log_path, errors="replace") as f:
        if not from_start:
            f.seek(0, os.SEEK_END)
        partial = ""
        while not ctx.cancelled:
            data = f.readline()
            if not data:
                time.sleep(poll_ms / 1000)
                continue
            partial += data
            if not partial.endswith("\n"):
                continue  # a line still being written
            line, partial = partial.rstrip("\n"), ""
            line_no += 1
            for pattern, rx in regexes:
                if rx.search(line):
                    severity = _severity(line, pattern)
                    counts[severity] += 1
                    yield {"line_number": line_no, "log_line": line, "pattern_matched": pattern,
                           "severity": severity, "context": list(before), "timestamp": time.time(),
                           "matches_so_far": dict(counts)}
                    break
            before.append(line)
