"""Sustained-degradation detection, a family of parts: settings, the sequential test,
the tracked reference, the confirmation, and the detector that drives them."""

from .confirm import current_figures
from .cusum import BinomialCusum
from .detector import SustainedDetector, Verdict
from .settings import BLOCK_SIZE, DetectorSettings

__all__ = [
    "BLOCK_SIZE",
    "BinomialCusum",
    "DetectorSettings",
    "SustainedDetector",
    "Verdict",
    "current_figures",
]
