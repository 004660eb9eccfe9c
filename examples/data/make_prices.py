"""Writes prices.csv: one year of daily closes and volumes for four symbols, a seeded geometric random
walk with regime changes (so the indicators have trends, reversals and volume spikes to find).
Run once; the CSV is committed: `/usr/bin/python3 examples/data/make_prices.py`."""
import csv
import datetime
import math
import os
import random

SYMBOLS = {"AAPL": 185.0, "GOOGL": 140.0, "MSFT": 375.0, "TSLA": 245.0}


def main():
    rng = random.Random(20261124)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prices.csv")
    day = datetime.date(2025, 1, 2)
    days = []
    while len(days) < 252:
        if day.weekday() < 5:
            days.append(day)
        day += datetime.timedelta(days=1)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["date", "symbol", "close", "volume"])
        for sym, price in SYMBOLS.items():
            drift, vol = 0.0004, 0.018 if sym != "TSLA" else 0.035
            base_volume = rng.randint(20, 80) * 1_000_000
            for i, d in enumerate(days):
                if i % 60 == 0:  # a new regime every quarter
                    drift = rng.choice([-0.003, -0.001, 0.0005, 0.002, 0.003])
                ret = drift + vol * rng.gauss(0, 1)
                price *= math.exp(ret)
                spike = 2.5 if abs(ret) > 2 * vol else 1.0
                volume = int(base_volume * spike * math.exp(rng.gauss(0, 0.25)))
                w.writerow([d.isoformat(), sym, f"{price:.2f}", volume])


if __name__ == "__main__":
    main()
