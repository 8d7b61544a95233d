"""``spin``: callbacks run on the spinning thread, and a thread of the node that waits for an answer
(error recovery on the control thread, a simulator reset) gets it from that same executor."""

from __future__ import annotations

import threading

import rclpy
import rclpy.executors
from rclpy.node import Node as RclNode
from std_msgs.msg import String
from std_srvs.srv import Trigger

from vipflow.ros.node_support import spin, wait_future


def test_callbacks_run_on_the_spinning_thread_and_other_threads_get_answers(ros, monkeypatch):
    monkeypatch.setenv("ROS_DOMAIN_ID", str(ros.domain.id))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    def answer(_request, response):
        response.success = True
        return response

    ros.probe.node.create_service(Trigger, "/spin_test/answer", answer)
    chatter = ros.probe.publisher(String, "/spin_test/chatter")
    callback_threads: list[int] = []
    answers: list[bool] = []
    stop = threading.Event()

    class Listener(RclNode):
        def __init__(self) -> None:
            super().__init__("spin_test")
            self.finished = False
            self.create_subscription(String, "/spin_test/chatter", self.on_message, 10, raw=True)
            self.client = self.create_client(Trigger, "/spin_test/answer")
            threading.Thread(target=self.ask, daemon=True).start()

        def on_message(self, _raw: bytes) -> None:
            callback_threads.append(threading.get_ident())
            self.finished = len(callback_threads) >= 20 and bool(answers)

        def ask(self) -> None:  # waits on its own thread, as the control thread does for recovery
            if self.client.wait_for_service(timeout_sec=30.0):
                answers.append(wait_future(self.client.call_async(Trigger.Request()), 30.0, "answer").success)

    def talk() -> None:
        while not stop.wait(0.02):
            chatter.publish(String(data="tick"))

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    try:
        assert spin(rclpy, Listener, name="spin_test") == 0
    finally:
        stop.set()
        talker.join()
    assert answers == [True]
    assert set(callback_threads) == {threading.get_ident()}  # no hand-off to a thread pool
