"""Our dual-link flow against django-allauth's change flow, interleaved, in one process.

The peers benchmark (``bench-peers``, kept beside the project) runs each flow
N times, one flow after the other. On a shared machine the load moves
between those runs, and the ratio of their p50s with it (by ±30% here). This
runs the same flows from the same harness one user at a time, in turn
(allauth's two variants, ours, the six-request floor, then again), so a
change in the load falls on all of them alike, and prints each flow's p50,
its steps' p50s and the ratio of our p50 to each of allauth's: its plain
change flow (4 requests, no password) and the one that asks for the password
again (6 requests, like ours).

    python benchmarks/peers_interleaved.py --peers ../shared/bench-peers
    python benchmarks/peers_interleaved.py --peers ../shared/bench-peers --sqlite /tmp/peers.sqlite3

Run it with a Python that has Django, django-allauth and this package
installed (the peers README says how). The peers folder is copied to a
temporary folder first, and its user model's migrations are brought up to
date there: the copy beside the project may predate a field the mixin added.
Both flows use the MD5 hasher (``BENCH_HASHER=fast``), as in the peers README.
The SQLite file defaults to one in ``/dev/shm`` when there is one: commits
then cost next to nothing, and what is compared is the work done.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

FLOWS = ("allauth-change", "allauth-change-reauth", "ours-dual-link", "floor-6-requests")
WARM_UP = 10


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", required=True, help="the bench-peers folder")
    parser.add_argument("--flows", type=int, default=150, help="recorded flows of each kind")
    default_db = "/dev/shm/peers-interleaved.sqlite3" if Path("/dev/shm").is_dir() else None
    parser.add_argument("--sqlite", default=default_db, help="the SQLite file (made anew)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="peers-"))
    try:
        shutil.copytree(args.peers, work / "peers")
        return run(work / "peers", args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(peers, args):
    sys.path.insert(0, str(peers))
    db = args.sqlite or str(peers / "peers.sqlite3")
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(db + suffix).unlink(missing_ok=True)
    os.environ.update(
        BENCH_DB="sqlite",
        BENCH_SQLITE_PATH=db,
        BENCH_HASHER="fast",
        DJANGO_SETTINGS_MODULE="peersproj.settings",
    )
    import django
    from django.core.management import call_command
    from django.test.utils import override_settings

    django.setup()
    call_command("makemigrations", "benchaccounts", verbosity=0)
    call_command("migrate", verbosity=0)
    import flows_peers
    import harness

    specs = {spec.name: spec for spec in flows_peers.flows()}
    totals = {name: [] for name in FLOWS}
    steps = {name: {} for name in FLOWS}
    for i in range(WARM_UP + args.flows):
        for name in FLOWS:
            spec = specs[name]
            with override_settings(**spec.settings_overrides):
                result = harness.run_flow(spec, 1, 0, f"{name}-{i}")
            if i < WARM_UP:
                continue
            totals[name].append(result["total"]["p50_ms"])
            for step in result["steps"]:
                steps[name].setdefault(step["step"], []).append(step["p50_ms"])

    p50 = {name: statistics.median(values) for name, values in totals.items()}
    print(f"{args.flows} flows of each kind, interleaved; SQLite {db}")
    for name in FLOWS:
        per_step = " ".join(f"{s}={statistics.median(v):.2f}" for s, v in steps[name].items())
        print(f"{name:21} p50 {p50[name]:7.2f} ms | {per_step}")
    for peer in ("allauth-change", "allauth-change-reauth"):
        print(f"ratio ours/{peer}: {p50['ours-dual-link'] / p50[peer]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
