"""Old import path of :mod:`sac.models.sam.minisam`, kept while ``sac.cli`` imports ``install_minisam`` from here;
new code imports it from :mod:`sac.models.sam`."""

from sac.models.sam.minisam import install_minisam

__all__ = ["install_minisam"]
