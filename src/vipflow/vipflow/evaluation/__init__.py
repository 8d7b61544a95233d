"""Evaluation: N rollouts of a policy, each recorded as an episode, into a results ledger, and
the comparison table across policies and seeds (see docs/runtime.md).

``session`` runs rollouts (``EvaluationSession``) and builds them from a task
(``evaluation_from_task``: the ``results/<task>/<name>/seed<N>`` layout and the encoder record),
``backend``/``sim_backend`` say where rollouts run and who resets and judges them, ``operator``
is the person at the robot, ``ledger`` the results file, ``table`` the paper-style table. The
control loop, perception and safety layer they drive are ``vipflow.runtime``.
"""
