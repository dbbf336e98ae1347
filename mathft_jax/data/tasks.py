"""The built-in tasks, registered by one explicit, idempotent call: `register_builtin_tasks()`.

Importing a data module registers nothing, so what is registered never depends on import order.
Whoever looks tasks up calls this first: `pipeline.tokenize_split` (the trainer and `stats` read
through it) and `seqio_tasks`. Pool tasks are registered apart, from a candidates file
(`math_tasks.register_verifier_tasks`; in gin `@pool_verifier_task()`), and are left alone here.

Built-in names: synth_ssft, synth_eval, synth_verifier_xent, synth_verifier_pairs,
synth_contrastive_pairs (`synth_tasks`); math_ssft_human, math_ssft_prm800k, math_ssft_mix,
math_verifier_xent, math_verifier_pairs, math_contrastive_pairs, math500_eval (`math_tasks`).
The registry itself (`get_task`, `task_names`, `register_task`, ...) is `registry.py`.
"""

import logging

from mathft_jax.data import math_tasks, registry, synth_tasks

_registered = False


def register_builtin_tasks() -> list[str]:
    """Registers the built-in tasks once per process (later calls do nothing); returns all names.

    Building is lazy: nothing is read or generated until a task's split is asked for.
    """
    global _registered
    if not _registered:
        synth_tasks.register_synth_tasks()
        math_tasks.register_math_tasks()
        _registered = True
        logging.getLogger(__name__).debug("registered the built-in tasks")
    return registry.task_names()
