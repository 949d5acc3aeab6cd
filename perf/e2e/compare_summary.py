#!/usr/bin/env python3
"""The Markdown summary of a compare.sh run, from its CSV (so an old run can be read again).

    perf/e2e/compare_summary.py CSV [VARIANT ...]     default: every variant, in the CSV's order

Per variant: the median over rounds of req/s, p99 and sidecar CPU per request, each also as the
median of the per-round ratios to the first variant (each ratio compares pairs measured seconds
apart, so slow drifts of the machine cancel), and for the throughput ratio a 95% bootstrap
interval: rounds are resampled with replacement and the median ratio taken again, 2,000 times.
On this VM single rounds move by up to 2x, so a ratio is only worth its interval.
"""
import csv
import random
import statistics
import sys

BOOTSTRAP = 2000


def main(path, variants):
    rows = list(csv.DictReader(open(path)))
    if not variants:
        variants = list(dict.fromkeys(r["variant"] for r in rows))
    by = {}  # variant -> round -> [rows of its pairs]
    for r in rows:
        by.setdefault(r["variant"], {}).setdefault(r["round"], []).append(r)
    missing = [v for v in variants if v not in by]
    if missing:
        sys.exit(f"compare_summary.py: no rows for {', '.join(missing)} in {path}")
    first = variants[0]
    rounds = sorted((k for k in by[first] if all(k in by[v] for v in variants)), key=int)

    def val(v, k, col):  # a variant's value in a round: the mean over its pairs
        return statistics.fmean(float(x[col]) for x in by[v][k])

    def med(v, col):
        return statistics.median(val(v, k, col) for k in rounds)

    def ratios(v, col):
        return [val(v, k, col) / val(first, k, col) for k in rounds]

    def interval(v, col):
        rs = ratios(v, col)
        rnd = random.Random(1)  # the same CSV always gives the same interval
        meds = sorted(statistics.median(rnd.choices(rs, k=len(rs))) for _ in range(BOOTSTRAP))
        return meds[int(0.025 * BOOTSTRAP)], meds[int(0.975 * BOOTSTRAP) - 1]

    def peak(v):
        return max(max(int(x["rss_peak_kib_a"]), int(x["rss_peak_kib_b"])) for k in rounds for x in by[v][k]) / 1024

    print(f"\n{len(rounds)} rounds, {len(by[first][rounds[0]])} pair(s) per variant ({path}); "
          f"'vs {first}' is the median of the per-round ratios, with its 95% bootstrap interval for req/s:")
    print(f"| variant | req/s | vs {first} | 95% interval | p99 ms | vs {first} | sidecar CPU µs/request | vs {first} "
          f"| peak RSS MiB (highest sidecar) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for v in variants:
        lo, hi = interval(v, "requests_per_s")
        print(f"| {v} | {med(v, 'requests_per_s'):,.0f} | {statistics.median(ratios(v, 'requests_per_s')):.3f} "
              f"| {lo:.3f}-{hi:.3f} | {med(v, 'p99_ms'):.2f} | {statistics.median(ratios(v, 'p99_ms')):.2f} "
              f"| {med(v, 'cpu_us_per_request'):.1f} | {statistics.median(ratios(v, 'cpu_us_per_request')):.3f} "
              f"| {peak(v):.0f} |")
    if len(by[first][rounds[0]]) > 1:  # how much pairs of one variant differ: JVMs do not all compile alike
        print("\nMedian req/s of each pair:")
        for v in variants:
            ids = sorted({x["pair"] for k in rounds for x in by[v][k]})
            print(f"- {v}: " + ", ".join(
                f"{statistics.median(float(x['requests_per_s']) for k in rounds for x in by[v][k] if x['pair'] == i):,.0f}"
                for i in ids))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
