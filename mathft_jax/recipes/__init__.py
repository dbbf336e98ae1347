"""Multi-stage pipelines built from the entry points (the paper's recipe: `paper.py`)."""
