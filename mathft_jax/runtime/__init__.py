"""What training and inference both stand on: the mesh and logical-axis partitioning
(`partitioning`), checkpoint I/O (`checkpoints`), and the multi-host helpers (`multihost`).

Imports models and paths_io only, never training, inference or data.
"""
