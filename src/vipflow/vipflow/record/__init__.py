"""Recording demos: the session (episode and reset timers, keys, acquisition threads, crash
safety) and the key sources an operator drives it with. The episode format and the dataset
store it writes into are ``vipflow.episodes``; the hardware it reads is ``vipflow.hardware``.
"""
