"""The web app under load: rounds of concurrent users against one ``sac serve`` on localhost, each user
uploading photos, waiting for them and downloading their masks, while a prober times ``/api/info`` and the
server's memory is sampled. Memory bounded = the peak does not grow round after round.

    python benchmarks/app_load.py --rounds 6            # 6 rounds × 16 users × 5 photos (default 3)
    python benchmarks/app_load.py --users 32 --rounds 5

Writes ``benchmarks/results/app_load.{md,json}``. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the load driver the test uses

from app_load import run_load, start_server  # noqa: E402
from sac.files import atomic_write_json, atomic_write_text  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--photos", type=int, default=5, help="photos per user per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="2", help="OMP_NUM_THREADS of the server")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        proc, url = start_server(Path(d) / "app", threads=args.threads)
        try:
            for r in range(args.rounds):
                s = run_load(url, proc.pid, users=args.users, photos_per_user=args.photos).summary()
                rows.append({"round": r + 1, **s})
                print(rows[-1], flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lines = ["# The web app under load", "",
             f"`python benchmarks/app_load.py --users {args.users} --photos {args.photos} --rounds {args.rounds}` — "
             f"one `sac serve` (OMP_NUM_THREADS={args.threads}) on localhost; each user uploads photos of a size of "
             "their own (120–300 px sides), polls until done and downloads the mask; a mix-up = a mask of another "
             "size than the user's photo. Probe = `GET /api/info` every 0.25 s during the round.", "",
             "| round | users × photos | jobs done | mix-ups | errors | seconds | probe median ms | probe p95 ms | "
             "probe max ms | server RSS start → peak MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['round']} | {r['users']} × {r['photos_per_user']} | {r['jobs_done']} | {r['mixups']} | "
                     f"{r['errors']} | {r['seconds']} | {r['probe_ms_median']} | {r['probe_ms_p95']} | "
                     f"{r['probe_ms_max']} | {r['rss_mb_start']:.0f} → {r['rss_mb_peak']:.0f} |")
    out = ROOT / "benchmarks" / "results"
    atomic_write_text(out / "app_load.md", "\n".join(lines) + "\n")
    atomic_write_json(out / "app_load.json", {"args": vars(args), "rounds": rows})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
