"""synth: synthetic OCR line images and noisy speech with exact labels and full lineage.

The core package is plain Python and never imports Prefect; the Prefect layer lives in ``flows``.
"""

__version__ = "0.1.0"
