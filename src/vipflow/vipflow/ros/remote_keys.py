"""Keys and prompts between a ROS node and the operator's terminal, over two String topics.

``ros2 launch`` gives no node a terminal (it does not forward stdin), so the recorder and the
evaluator take the operator's keys from a topic and send their prompts to another. The ``keys``
tool (``ros2 run demo_recorder keys``) runs in the operator's own terminal, locally or over
``ssh -t``: it publishes each key press (the names of :mod:`vipflow.record.keys`: "space",
"s", "f", "r", "q", ...) and prints every prompt.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable

from vipflow.record.keys import KeySource, QueueKeys
from vipflow.ros.topic_hardware import string_cdr, string_of

KEY_TOPIC = "/vip/keys"
PROMPT_TOPIC = "/vip/prompts"
CONFIRM_KEYS = ("enter", "space")
PROMPT_HISTORY = 5


def prompt_qos(qos):
    """The prompt topic's QoS, from ``rclpy.qos`` (passed in: the core never imports rclpy).

    Latched (transient local, the last ``PROMPT_HISTORY`` prompts): a keys tool, or a test, that
    joins after a node asked "ready for episode_0000?" still sees the question it must answer.
    Keys stay volatile: a stale "q" must never end a later session.
    """
    return qos.QoSProfile(
        depth=PROMPT_HISTORY,
        reliability=qos.ReliabilityPolicy.RELIABLE,
        durability=qos.DurabilityPolicy.TRANSIENT_LOCAL,
    )


class PromptWriter(io.TextIOBase):
    """A text stream that hands every complete line to ``emit`` (the recorder's ``out``).

    Not a tty, so the recorder sends whole lines only (no ``\\r`` status refreshes).
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        super().__init__()
        self.emit = emit
        self._buffer = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text.replace("\r", "\n")
            *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                self.emit(line)
        return len(text)


def operator_answer(keys: KeySource, prompt: str, emit: Callable[[str], None], stop: threading.Event) -> str:
    """One answer for ``vipflow.evaluation.operator.ConsoleOperator``: show the prompt, take one key.

    Enter or space confirm (an empty answer); any other key is the answer ("s", "f", "q").
    Raises EOFError when ``stop`` is set (the node shuts down), which the operator turns into a
    clean abort.
    """
    emit(prompt)
    while not stop.is_set():
        key = keys.get(0.2)
        if key is not None:
            return "" if key in CONFIRM_KEYS else key
    raise EOFError("the node is shutting down")


class OperatorLink:
    """A node's side of the operator terminal: keys in, prompts out, both as String CDR.

    ``publish`` sends std_msgs/String bytes to the prompt topic (failures while the node shuts
    down are ignored: every prompt also goes to ``log``); ``on_key`` is the raw subscription
    callback of the key topic; ``ask`` answers ``ConsoleOperator`` prompts.
    """

    def __init__(self, publish: Callable[[bytes], None], log: Callable[[str], None]) -> None:
        self.publish, self.log = publish, log
        self.keys = QueueKeys()
        self.stop = threading.Event()

    @classmethod
    def on_node(cls, node, qos, string_type: type, key_topic: str, prompt_topic: str) -> OperatorLink:
        """A link wired onto an rclpy ``node``: latched prompts out (``prompt_qos``), raw keys in."""
        publisher = node.create_publisher(string_type, prompt_topic, prompt_qos(qos))
        link = cls(publisher.publish, node.get_logger().info)
        node.create_subscription(string_type, key_topic, link.on_key, 10, raw=True)
        return link

    def say(self, line: str) -> None:
        self.log(line)
        with contextlib.suppress(Exception):
            self.publish(string_cdr(line))

    def on_key(self, raw: bytes) -> None:
        self.keys.push(string_of(raw))

    def ask(self, prompt: str) -> str:
        return operator_answer(self.keys, prompt, self.say, self.stop)

    def close(self) -> None:
        """Unblock a waiting ``ask`` and ask a recorder session to quit (``q`` closes its episode)."""
        self.stop.set()
        self.keys.push("q")
