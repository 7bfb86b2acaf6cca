"""The web app under load (issue 17): six users upload three photos each at the same time to a real ``sac serve``
on localhost; every upload is answered, every user gets back the masks of their own photos (each photo has a
size and a crack row of its own), the server keeps answering quickly meanwhile, and its memory stays bounded.
``benchmarks/app_load.py`` runs the same with more users and writes the figures."""

from __future__ import annotations

import pytest

from app_load import run_load, start_server

pytest.importorskip("fastapi", reason="the app needs its extra: pip install 'segment-any-crack[app]'")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_concurrent_users_get_their_own_results_and_the_server_keeps_answering(tmp_path):
    proc, url = start_server(tmp_path / "app")
    try:
        res = run_load(url, proc.pid, users=6, photos_per_user=3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    s = res.summary()
    print(s)
    assert not res.errors, res.errors[:5]
    assert s["jobs_done"] == 18 and s["mixups"] == 0
    assert s["probe_requests"] >= 5 and s["probe_ms_p95"] < 2000  # answers while the queue runs
    assert s["rss_mb_peak"] < 1500  # bounded: one worker, capped caches
