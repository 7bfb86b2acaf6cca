"""Load on a running ``sac serve``: concurrent users upload photos, wait for their results and download their
masks, while a prober measures how fast the server answers; the server process's memory is sampled throughout.
Used by ``tests/test_app_load.py`` (a short run) and ``benchmarks/app_load.py`` (a longer one). Localhost only,
bounded loops."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, threads: str = "1") -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": threads}
    proc = subprocess.Popen([sys.executable, "-m", "sac", "serve", "--port", str(port), "--root", str(root)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("sac serve exited while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("sac serve did not start within 120 s")


def photo(user: int, k: int) -> bytes:
    """A photo only this (user, k) uploads: a size and a dark crack row of its own, so a mix-up shows in the
    mask that comes back."""
    h, w = 120 + 8 * user, 160 + 8 * k
    rng = np.random.default_rng(1000 * user + k)
    img = rng.integers(120, 200, (h, w, 3), dtype=np.uint8)
    row = 20 + (7 * user + 13 * k) % (h - 40)
    img[row: row + 3, 10: w - 10] = 15
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def _multipart(name: str, data: bytes) -> tuple[bytes, str]:
    b = uuid.uuid4().hex
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + \
        f"\r\n--{b}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ndefault\r\n--{b}--\r\n".encode()
    return body, f"multipart/form-data; boundary={b}"


def _get(url: str, timeout: float = 120) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class LoadResult:
    users: int
    photos_per_user: int
    jobs_done: int = 0
    mixups: int = 0  # a user got a mask whose crack row is not in their photo
    errors: list[str] = field(default_factory=list)
    probe_ms: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict:
        p = np.array(self.probe_ms or [np.nan])
        return {"users": self.users, "photos_per_user": self.photos_per_user, "jobs_done": self.jobs_done,
                "mixups": self.mixups, "errors": len(self.errors), "seconds": round(self.seconds, 1),
                "probe_requests": len(self.probe_ms), "probe_ms_median": round(float(np.median(p)), 1),
                "probe_ms_p95": round(float(np.percentile(p, 95)), 1), "probe_ms_max": round(float(p.max()), 1),
                "rss_mb_start": round(self.rss_mb[0], 0) if self.rss_mb else None,
                "rss_mb_peak": round(max(self.rss_mb), 0) if self.rss_mb else None,
                "rss_mb_end": round(self.rss_mb[-1], 0) if self.rss_mb else None}


def run_load(url: str, pid: int, users: int = 6, photos_per_user: int = 3, timeout: float = 600) -> LoadResult:
    res = LoadResult(users, photos_per_user)
    lock = threading.Lock()
    stop = threading.Event()

    def user(u: int) -> None:
        for k in range(photos_per_user):
            data = photo(u, k)
            body, ctype = _multipart(f"user{u}_photo{k}.png", data)
            try:
                req = urllib.request.Request(f"{url}/api/jobs", data=body, headers={"Content-Type": ctype})
                job = json.loads(urllib.request.urlopen(req, timeout=120).read())["id"]
                t_end = time.time() + timeout
                while time.time() < t_end:
                    meta = json.loads(_get(f"{url}/api/jobs/{job}"))
                    if meta["status"] in ("done", "error"):
                        break
                    time.sleep(0.2)
                if meta["status"] != "done":
                    raise RuntimeError(f"job {job}: {meta['status']} {meta.get('error')}")
                mask = np.array(Image.open(io.BytesIO(_get(f"{url}/api/jobs/{job}/file/mask.png"))))
                img = np.array(Image.open(io.BytesIO(data)))
                dark_rows = set(np.flatnonzero(img.mean(axis=(1, 2)) < 80))
                mask_rows = set(np.flatnonzero((mask > 0).sum(1) > mask.shape[1] // 4))
                with lock:
                    res.jobs_done += 1
                    if mask.shape != img.shape[:2] or (mask_rows and not mask_rows & dark_rows):
                        res.mixups += 1
            except Exception as e:  # noqa: BLE001 - counted and reported, the load goes on
                with lock:
                    res.errors.append(f"user {u} photo {k}: {type(e).__name__}: {e}")

    def prober() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                _get(f"{url}/api/info", timeout=60)
                res.probe_ms.append(1000 * (time.perf_counter() - t0))
            except Exception as e:  # noqa: BLE001
                res.errors.append(f"probe: {type(e).__name__}: {e}")
            res.rss_mb.append(rss_mb(pid))
            stop.wait(0.25)

    t0 = time.perf_counter()
    res.rss_mb.append(rss_mb(pid))
    probe = threading.Thread(target=prober, daemon=True)
    probe.start()
    threads = [threading.Thread(target=user, args=(u,), daemon=True) for u in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    stop.set()
    probe.join(10)
    res.seconds = time.perf_counter() - t0
    res.rss_mb.append(rss_mb(pid))
    return res
