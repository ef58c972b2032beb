"""``python -m napari_vqmap.training`` / ``torchrun -m napari_vqmap.training``: the
``napari-vqmap train`` arguments, run on every process torchrun starts."""

import sys

from napari_vqmap.cli.train import main
from napari_vqmap.console import print_warnings_plainly

print_warnings_plainly()
sys.exit(main())
