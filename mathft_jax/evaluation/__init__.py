"""Evaluation of candidates files: read them, cluster answers, compute metrics, write reports.

`candidates` (file format), `clustering` (equivalence clusters), `grade` (one problem graded
once), `metrics` (per-problem metrics and the tie rule), `summary` (averages, subsets, CIs),
`report` (metrics.json, metrics.md, metrics_vs_n.png). Never imports JAX or TensorFlow.
"""
