import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

# the nbval machinery the notebook tests share with `make nbval` and tools/chapter_times.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
