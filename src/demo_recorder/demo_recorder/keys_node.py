"""keys: the operator's terminal for the recorder and the evaluator started by ``ros2 launch``.

``ros2 launch`` does not give nodes a terminal, so run this in one (locally or over ``ssh -t``):
``ros2 run demo_recorder keys``. Each key press goes out on ``key_topic`` by name ("space", "s",
"f", "r", "q", "enter", ...); every prompt the nodes publish on ``prompt_topic`` is printed.
Ctrl-C quits this tool only; press q to end a session.
"""

from __future__ import annotations

import sys

import rclpy
import rclpy.qos
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from std_msgs.msg import String

from demo_recorder.params import KeysNodeParams
from vipflow.record.keys import TerminalKeys
from vipflow.ros.node_support import declare_parameters
from vipflow.ros.remote_keys import prompt_qos
from vipflow.ros.topic_hardware import string_cdr, string_of


class KeysNode(Node):
    def __init__(self) -> None:
        super().__init__("keys")
        p = declare_parameters(self, KeysNodeParams, ParameterDescriptor, read_only=False)
        self.keys_out = self.create_publisher(String, p.key_topic, 10)
        self.create_subscription(String, p.prompt_topic, self._on_prompt, prompt_qos(rclpy.qos), raw=True)
        print(f"keys -> {p.key_topic}; prompts from {p.prompt_topic}. Ctrl-C leaves this tool.", flush=True)

    def _on_prompt(self, raw: bytes) -> None:
        print(string_of(raw), flush=True)

    def send(self, key: str) -> None:
        self.keys_out.publish(string_cdr(key))


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = KeysNode()
    try:
        with TerminalKeys() as keys:
            while rclpy.ok():
                rclpy.spin_once(node, timeout_sec=0.0)
                key = keys.get(0.05)
                if key is not None:
                    node.send(key)
        return 0
    except OSError as exc:  # stdin is not a terminal
        print(f"keys: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
