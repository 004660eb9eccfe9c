"""Stock analysis over the bundled price series (examples/data/prices.csv): SMA, RSI, MACD and a
BUY/SELL/HOLD signal per symbol and day, streamed as the series is replayed."""
import csv
import os
import time

import pitboss

PRICES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "prices.csv")


def _load(symbols):
    series = {}
    with open(PRICES, newline="") as f:
        for row in csv.DictReader(f):
            if not symbols or row["symbol"] in symbols:
                series.setdefault(row["symbol"], []).append((row["date"], float(row["close"]), int(row["volume"])))
    return series


class _Indicators:
    """Incremental SMA(20/50), RSI(14, Wilder) and MACD(12, 26, 9) for one symbol."""

    def __init__(self):
        self.closes, self.volumes = [], []
        self.avg_gain = self.avg_loss = None
        self.ema12 = self.ema26 = self.signal = None
        self.prev_hist = None

    def update(self, close, volume):
        prev = self.closes[-1] if self.closes else None
        self.closes.append(close)
        self.volumes.append(volume)
        out = {"sma_20": self._sma(20), "sma_50": self._sma(50), "rsi": None, "macd": None, "macd_signal": None}
        if prev is not None:
            gain, loss = max(close - prev, 0.0), max(prev - close, 0.0)
            n = len(self.closes) - 1
            if n <= 14:
                self.avg_gain = ((self.avg_gain or 0.0) * (n - 1) + gain) / n
                self.avg_loss = ((self.avg_loss or 0.0) * (n - 1) + loss) / n
            else:
                self.avg_gain = (self.avg_gain * 13 + gain) / 14
                self.avg_loss = (self.avg_loss * 13 + loss) / 14
            if n >= 14:
                out["rsi"] = 100.0 if self.avg_loss == 0 else 100 - 100 / (1 + self.avg_gain / self.avg_loss)
        self.ema12 = close if self.ema12 is None else self.ema12 + (close - self.ema12) * 2 / 13
        self.ema26 = close if self.ema26 is None else self.ema26 + (close - self.ema26) * 2 / 27
        if len(self.closes) >= 26:
            macd = self.ema12 - self.ema26
            self.signal = macd if self.signal is None else self.signal + (macd - self.signal) * 2 / 10
            out["macd"], out["macd_signal"] = macd, self.signal
        avg_volume = sum(self.volumes[-21:-1]) / min(20, len(self.volumes) - 1) if len(self.volumes) > 1 else volume
        out["volume_ratio"] = volume / avg_volume if avg_volume else 1.0
        return out

    def _sma(self, n):
        return sum(self.closes[-n:]) / n if len(self.closes) >= n else None


def _signal(ind, hist_prev, thresholds):
    reasons = []
    score = 0
    rsi, macd, sig = ind["rsi"], ind["macd"], ind["macd_signal"]
    if rsi is not None and rsi < thresholds["rsi_oversold"]:
        score += 1
        reasons.append(f"RSI {rsi:.1f} < {thresholds['rsi_oversold']} (oversold)")
    if rsi is not None and rsi > thresholds["rsi_overbought"]:
        score -= 1
        reasons.append(f"RSI {rsi:.1f} > {thresholds['rsi_overbought']} (overbought)")
    if macd is not None and hist_prev is not None:
        hist = macd - sig
        if hist_prev <= 0 < hist:
            score += 1
            reasons.append("MACD crossed above its signal line")
        elif hist_prev >= 0 > hist:
            score -= 1
            reasons.append("MACD crossed below its signal line")
    if ind["sma_20"] and ind["sma_50"]:
        reasons.append("SMA20 above SMA50 (uptrend)" if ind["sma_20"] > ind["sma_50"] else "SMA20 below SMA50 (downtrend)")
    return ("BUY" if score > 0 else "SELL" if score < 0 else "HOLD"), reasons


@pitboss.command
def stock_analysis(symbols: list = None, indicators: list = None, alert_thresholds: dict = None,
                   only_signals: bool = False, interval_ms: int = 0, ctx: pitboss.Context = None):
    """Replays the bundled daily prices and streams, per symbol and day, the price, volume, the asked
    indicators (RSI, MACD, SMA_20, SMA_50) and a BUY/SELL/HOLD trading signal with its reasons."""
    thresholds = {"rsi_oversold": 30, "rsi_overbought": 70, "volume_spike": 2.0}
    thresholds.update(alert_thresholds or {})
    wanted = {i.upper() for i in (indicators or ["RSI", "MACD", "SMA_20", "SMA_50"])}
    series = _load(set(symbols or []))
    unknown = sorted(set(symbols or []) - set(series))
    if unknown:
        raise ValueError(f"no prices for {', '.join(unknown)} (the series has {', '.join(sorted(_load(set())))})")
    state = {s: _Indicators() for s in series}
    hist_prev = {s: None for s in series}
    summary = {s: {"BUY": 0, "SELL": 0, "HOLD": 0} for s in series}
    days = max(len(v) for v in series.values())
    for day in range(days):
        for sym, rows in series.items():
            if ctx.cancelled:
                return
            if day >= len(rows):
                continue
            date, close, volume = rows[day]
            ind = state[sym].update(close, volume)
            signal, reasons = _signal(ind, hist_prev[sym], thresholds)
            if ind["macd"] is not None:
                hist_prev[sym] = ind["macd"] - ind["macd_signal"]
            summary[sym][signal] += 1
            if only_signals and signal == "HOLD":
                continue
            out = {"symbol": sym, "date": date, "price": close, "volume": volume, "trading_signal": signal,
                   "reasons": reasons, "volume_spike": ind["volume_ratio"] >= thresholds["volume_spike"]}
            if "RSI" in wanted:
                out["rsi"] = None if ind["rsi"] is None else round(ind["rsi"], 2)
            if "MACD" in wanted:
                out["macd"] = None if ind["macd"] is None else round(ind["macd"], 4)
                out["macd_signal"] = None if ind["macd_signal"] is None else round(ind["macd_signal"], 4)
            for key in ("SMA_20", "SMA_50"):
                if key in wanted:
                    v = ind[key.lower()]
                    out[key.lower()] = None if v is None else round(v, 2)
            yield out
        if interval_ms:
            time.sleep(interval_ms / 1000)
    return {"symbols": sorted(series), "days": days, "signals": summary,
            "last_close": {s: rows[-1][1] for s, rows in series.items()}}
