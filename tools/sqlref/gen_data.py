#!/usr/bin/env python3
"""Writes the deterministic SQL conformance dataset under sql/tests/slt/data/.

Three CSV files, all over one trading day (2026-11-20, UTC), timestamps as integer
nanoseconds since the epoch, NULL as an empty field:

  trades.csv  timestamp,symbol,price,volume          ~3,000 rows, 8 symbols
  quotes.csv  timestamp,symbol,bid,ask,bid_size,ask_size  ~1,000 rows
  ticks.csv   ts,symbol,px                           ~600 rows, integer symbols

What the data deliberately contains, because the .slt queries rely on it:
  * rows out of time order in file (and so insert) order: late arrivals moved forward,
    and a whole early slice appended at the end, so sealed blocks overlap in time;
  * every timestamp unique across a table, so first/last/argMin by time have no ties;
  * a few NULL prices and volumes, including a NULL price on TSLA's earliest trade and on
    NVDA's latest, so first()/last()/argMin/argMax must skip NULLs;
  * one symbol (IBM) with exactly one trade and one (META) with exactly five, for the
    one-row edge cases of sample variance;
  * prices with two decimals (exactly the same double in every engine's parser).

The output is byte-for-byte reproducible: `python3 tools/sqlref/gen_data.py` and commit.
"""

import os
import random

SEED = 20261120
DAY_START_NS = 1795132800 * 10**9  # 2026-11-20 00:00:00 UTC
OPEN_NS = DAY_START_NS + (14 * 3600 + 30 * 60) * 10**9  # 14:30
CLOSE_NS = DAY_START_NS + 21 * 3600 * 10**9  # 21:00

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "sql", "tests", "slt", "data")

# symbol -> (row count, starting price)
TRADE_SYMBOLS = {
    "AAPL": (700, 190.0),
    "MSFT": (600, 420.0),
    "NVDA": (550, 140.0),
    "TSLA": (500, 250.0),
    "AMZN": (380, 210.0),
    "GOOG": (264, 175.0),
    "META": (5, 580.0),
    "IBM": (1, 230.0),
}


def unique_times(rng, n, lo, hi, taken):
    """n distinct ns timestamps in [lo, hi) not in `taken` (which is updated)."""
    out = []
    while len(out) < n:
        t = rng.randrange(lo, hi)
        if t not in taken:
            taken.add(t)
            out.append(t)
    return sorted(out)


def disorder(rng, rows):
    """Time-sorted rows → insert order with late arrivals and an early slice appended."""
    rows = list(rows)
    # 8% of rows arrive late: moved 1..400 positions later.
    for _ in range(len(rows) * 8 // 100):
        i = rng.randrange(len(rows))
        r = rows.pop(i)
        rows.insert(min(len(rows), i + rng.randint(1, 400)), r)
    # The earliest 5% arrive last of all (a backfill).
    k = len(rows) // 20
    early = sorted(rows, key=lambda r: r[0])[:k]
    early_set = set(id(r) for r in early)
    rest = [r for r in rows if id(r) not in early_set]
    return rest + early


def fmt_price(p):
    return "" if p is None else "%.2f" % p


def fmt_int(v):
    return "" if v is None else str(v)


def trades(rng):
    taken = set()
    rows = []
    for sym, (n, start) in TRADE_SYMBOLS.items():
        times = unique_times(rng, n, OPEN_NS, CLOSE_NS, taken)
        price = start
        for i, t in enumerate(times):
            price = max(1.0, price + rng.gauss(0, start * 0.002))
            p = round(price, 2)
            v = rng.choice([rng.randint(1, 99), rng.randint(1, 20) * 100, rng.randint(1, 2000)])
            if rng.random() < 0.02 and n > 5:
                p = None
            if rng.random() < 0.02 and n > 5:
                v = None
            if sym == "TSLA" and i == 0:
                p = None
            if sym == "NVDA" and i == n - 1:
                p = None
            rows.append((t, sym, p, v))
    rows.sort(key=lambda r: r[0])
    return disorder(rng, rows)


def quotes(rng):
    taken = set()
    rows = []
    for sym, n, start in [("AAPL", 300, 190.0), ("MSFT", 250, 420.0), ("NVDA", 200, 140.0),
                          ("TSLA", 150, 250.0), ("SPY", 100, 600.0)]:
        times = unique_times(rng, n, OPEN_NS, CLOSE_NS, taken)
        mid = start
        for t in times:
            mid = max(1.0, mid + rng.gauss(0, start * 0.002))
            spread = rng.randint(1, 8) / 100
            bid = round(mid - spread / 2, 2)
            ask = round(bid + spread, 2)
            bs = rng.randint(1, 50) * 100
            asz = rng.randint(1, 50) * 100
            if rng.random() < 0.03:
                bs = None
            if rng.random() < 0.02:
                bid = None
            rows.append((t, sym, bid, ask, bs, asz))
    rows.sort(key=lambda r: r[0])
    return disorder(rng, rows)


def ticks(rng):
    taken = set()
    rows = []
    for sym, n, start in [(1, 200, 100.0), (2, 150, 55.5), (3, 120, 12.25), (7, 80, 1000.0),
                          (1000000007, 49, 3.5), (-5, 1, 42.0)]:
        times = unique_times(rng, n, OPEN_NS, CLOSE_NS, taken)
        px = start
        for t in times:
            px = max(0.01, px + rng.gauss(0, start * 0.003))
            p = round(px, 2)
            if rng.random() < 0.03 and n > 1:
                p = None
            rows.append((t, sym, p))
    rows.sort(key=lambda r: r[0])
    return disorder(rng, rows)


def write(name, header, rows, fmt):
    path = os.path.join(OUT, name)
    with open(path, "w", newline="\n") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(",".join(fmt(r)) + "\n")
    print("wrote %s (%d rows)" % (os.path.relpath(path), len(rows)))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(SEED)
    write("trades.csv", "timestamp,symbol,price,volume", trades(rng),
          lambda r: (str(r[0]), r[1], fmt_price(r[2]), fmt_int(r[3])))
    write("quotes.csv", "timestamp,symbol,bid,ask,bid_size,ask_size", quotes(rng),
          lambda r: (str(r[0]), r[1], fmt_price(r[2]), fmt_price(r[3]), fmt_int(r[4]),
                     fmt_int(r[5])))
    write("ticks.csv", "ts,symbol,px", ticks(rng),
          lambda r: (str(r[0]), str(r[1]), fmt_price(r[2])))


if __name__ == "__main__":
    main()
