"""``sac serve``: the local web page (see :mod:`sac.app`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sac.errors import ConfigError


def default_root() -> Path:
    """Where the app keeps uploads and results: ``$SAC_APP_DIR``, else ``~/.local/share/sac/app``."""
    env = os.environ.get("SAC_APP_DIR")
    return Path(env) if env else Path.home() / ".local" / "share" / "sac" / "app"


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from sac.app import Limits, create_app
    except ImportError as e:
        raise ConfigError("sac serve", f"the web app needs its extra: pip install 'segment-any-crack[app]' ({e})") from e
    for f in args.open or []:
        if not Path(f).is_dir():
            raise ConfigError(f, "--open needs a folder written by sac predict")
    root = Path(args.root) if args.root else default_root()
    limits = Limits(max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=int(args.max_megapixels * 1e6))
    app = create_app(root, models=args.model, open_folders=args.open, limits=limits, device=args.device)
    unavailable = app.state.jobs.models.unavailable
    for name, why in unavailable.items():
        print(f"note: model {name!r} is not offered: {why}", file=sys.stderr)
    print(f"Segment Any Crack: http://{args.host}:{args.port}/  (files in {root}; Ctrl-C stops)", file=sys.stderr,
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("serve", help="a local web page: drop photos, review masks, measure and grade cracks")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--root", help="the app's folder for uploads and results (default: $SAC_APP_DIR or "
                                  "~/.local/share/sac/app)")
    s.add_argument("--model", action="append", help="also offer this adapter file (repeatable)")
    s.add_argument("--open", action="append", metavar="FOLDER", help="show a folder written by sac predict "
                                                                     "in the gallery (repeatable)")
    s.add_argument("--max-upload-mb", type=float, default=64.0, help="largest accepted upload")
    s.add_argument("--max-megapixels", type=float, default=100.0, help="largest accepted photo")
    s.add_argument("--device", default="cpu", help="cpu or cuda")
    s.set_defaults(func=cmd_serve)
