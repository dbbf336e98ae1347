"""Evaluation of candidates files: cluster answers, compute metrics, write reports.

The file format itself is `mathft_jax.candidates`. `clustering` (equivalence clusters), `grade`
(one problem graded once), `metrics` (per-problem metrics and the tie rule), `summary` (averages, subsets, CIs),
`report` (metrics.json, metrics.md, metrics_vs_n.png). Never imports JAX or TensorFlow.
"""
