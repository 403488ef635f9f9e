#!/usr/bin/env python3
"""How many rappeld processes a deployment needs, and why (bench/SCALING.md).

A cost model fed with the per-operation figures measured on the 2-core VM
(bench/RESULTS.md), plus a Monte Carlo simulation of the one thing a model
cannot average away: tenants are not the same size, and a tenant lives on
one process (its appointments, ledger and fair queue are one process's
state), so sharding by tenant leaves some shards fuller than the mean.

    bench/scaling_model.py                          # the table in SCALING.md
    bench/scaling_model.py --pending 200e6 --peak-due 150e3 --tenants 20000

Python 3 standard library only. Every coefficient is a command-line option
so a run on other hardware can be fed its own figures.
"""
import argparse
import heapq
import math
import random


def per_process_limits(a):
    """What one process can hold and do, each limit on its own."""
    return {
        # The wheel, index and per-entry metadata stay in memory; payloads
        # stay in LMDB (page cache, not heap).
        "pending (memory)": a.memory_budget_bytes / a.bytes_per_pending,
        # Start-up replays the log once: serving within the restart budget.
        "pending (restart)": a.restart_budget_s / (a.recovery_us_per_pending * 1e-6),
        # The io thread fires, leases and takes acks; the writer thread
        # commits. The smaller of the two throughputs is the limit.
        "due/s (fire->ack)": a.fire_per_s,
        "reminders/s (ingest)": a.ingest_per_s,
        "appointment events/s": a.appointment_events_per_s,
        # The log on disk: records plus the compactor's slack.
        "pending (disk)": a.disk_budget_bytes / ((a.payload_bytes + a.record_overhead_bytes) * a.log_slack),
    }


def shard_skew(tenants, shards, zipf_s, trials, seed, split_above, placement):
    """Mean over trials of (largest shard / mean shard), tenants placed by
    hash; a tenant above `split_above` of one shard's share is split (by
    calendar) into pieces below it."""
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) ** zipf_s for i in range(tenants)]
    total = sum(weights)
    per_shard = total / shards
    pieces = []
    for w in weights:
        n = max(1, math.ceil(w / (split_above * per_shard)))
        pieces.extend([w / n] * n)
    worst = []
    if placement == "greedy":
        # Largest first onto the least loaded shard (a placement table).
        load = [(0.0, i) for i in range(shards)]
        heapq.heapify(load)
        for w in sorted(pieces, reverse=True):
            l, i = heapq.heappop(load)
            heapq.heappush(load, (l + w, i))
        worst.append(max(l for l, _ in load) / per_shard)
    else:
        for _ in range(trials):
            load = [0.0] * shards
            for w in pieces:
                load[rng.randrange(shards)] += w
            worst.append(max(load) / per_shard)
    return sum(worst) / len(worst), max(weights) / total, len(pieces) - len(weights)


def processes_needed(a, limits):
    """Processes for the fleet, with the shard skew the simulation finds."""
    need = max(
        a.pending / min(limits["pending (memory)"], limits["pending (restart)"], limits["pending (disk)"]),
        a.peak_due / limits["due/s (fire->ack)"],
        a.peak_ingest / limits["reminders/s (ingest)"],
        a.peak_events / limits["appointment events/s"],
    )
    shards = max(1, math.ceil(need))
    # Grow until the fullest shard (tenants placed by hash) fits.
    while True:
        skew, largest, splits = shard_skew(a.tenants, shards, a.zipf, a.trials, a.seed,
                                           a.split_above, a.placement)
        if need * skew / shards <= 1.0 or shards >= 100 * math.ceil(need):
            return shards, skew, largest, need, splits
        shards += max(1, shards // 10)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # The deployment.
    p.add_argument("--pending", type=float, default=50e6, help="reminders pending across the fleet")
    p.add_argument("--peak-due", type=float, default=60e3, help="messages due per second at the 9:00 peak")
    p.add_argument("--peak-ingest", type=float, default=50e3, help="raw reminders scheduled per second at peak")
    p.add_argument("--peak-events", type=float, default=20e3, help="appointment events per second at peak")
    p.add_argument("--tenants", type=int, default=5000)
    p.add_argument("--zipf", type=float, default=1.0, help="tenant size skew (Zipf exponent)")
    p.add_argument("--payload-bytes", type=float, default=200)
    # One process, measured on the 2-core VM (bench/RESULTS.md).
    p.add_argument("--bytes-per-pending", type=float, default=60, help="heap growth per pending, 10 M (003e7dc)")
    p.add_argument("--recovery-us-per-pending", type=float, default=0.40, help="10 M warm: 2.9-4.9 s")
    p.add_argument("--fire-per-s", type=float, default=759e3, help="fire -> deliver -> ack (6e7ba96)")
    p.add_argument("--ingest-per-s", type=float, default=1.8e6, help="durable schedule, fsync on (6e7ba96)")
    p.add_argument("--appointment-events-per-s", type=float, default=85e3)
    p.add_argument("--record-overhead-bytes", type=float, default=70, help="log record header + key")
    p.add_argument("--log-slack", type=float, default=1.65, help="log bytes / live bytes, steady churn")
    # Budgets.
    p.add_argument("--memory-budget-bytes", type=float, default=12 * 2**30, help="half of 24 GiB")
    p.add_argument("--disk-budget-bytes", type=float, default=200e9)
    p.add_argument("--restart-budget-s", type=float, default=5.0)
    p.add_argument("--utilisation", type=float, default=0.6,
                   help="run CPU limits at this share (headroom for bursts); memory at 1.0")
    p.add_argument("--split-above", type=float, default=0.25,
                   help="a tenant above this share of one process is split by calendar")
    p.add_argument("--placement", choices=["hash", "greedy"], default="hash",
                   help="tenants to processes: by hash, or largest first onto the least loaded")
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    limits = per_process_limits(a)
    for k in ("due/s (fire->ack)", "reminders/s (ingest)", "appointment events/s"):
        limits[k] *= a.utilisation
    print("One process (2 vCPU), each limit alone:")
    for k, v in limits.items():
        print(f"  {k:24s} {v:14,.0f}")
    binding = min(("pending (memory)", "pending (restart)", "pending (disk)"), key=lambda k: limits[k])
    print(f"  -> pending per process is bound by {binding.split('(')[1][:-1]}")
    shards, skew, largest, need, splits = processes_needed(a, limits)
    print(f"\nFleet: {a.pending:,.0f} pending, {a.peak_due:,.0f} due/s at peak, "
          f"{a.tenants} tenants (Zipf {a.zipf})")
    print(f"  processes by the averages: {need:.2f}")
    print(f"  largest tenant: {largest:.1%} of the load; fullest shard / mean: {skew:.2f}")
    print(f"  processes with tenants placed by {a.placement}: {shards}")
    if splits:
        print(f"  tenants too big for a shard's share were split by calendar ({splits} extra pieces)")


if __name__ == "__main__":
    main()
