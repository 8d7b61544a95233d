"""Plumbing shared by our ROS 2 nodes, without importing rclpy (the node passes rclpy in).

Parameters: a node calls ``declare_parameters(self, Schema, descriptor)`` once in its constructor; every
leaf field of the schema (``vipflow.config_schema``) becomes a parameter with its default and
its help text, and the values come back validated as the schema instance. The static tests read
the same schema, so what a launch file or a YAML sets is checked against what the node declares.

Lifecycle: ``spin(rclpy, make_node)`` initialises rclpy, builds the node, spins it until SIGINT,
SIGTERM, a shutdown, or the node reports ``finished`` (a recording or an evaluation that ran to
its end), and turns our named startup errors (bad parameter, missing weights, unreachable robot,
a missing interface package) into one line labelled with the node's name and exit status 1
instead of a traceback. rclpy's own signal handler is not installed: it would shut the context
down while the node's threads still publish (the policy's last hold, the final status); ours only
asks the spin loop to end, the node closes with a live context, then rclpy shuts down.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from vipflow.config_schema import ConfigError, ParamSpec, from_flat, param_specs
from vipflow.encoders.errors import EncoderError
from vipflow.episodes.errors import EpisodeError
from vipflow.hardware import HardwareError
from vipflow.policy.errors import PolicyError
from vipflow.runtime.limits import LimitsError
from vipflow.runtime.perception import EncoderWorkerError
from vipflow.runtime.priority import freeze_heap


def ros_default(spec: ParamSpec) -> Any:
    """The default as a ROS parameter value (lists for tuples)."""
    return list(spec.default) if isinstance(spec.default, tuple) else spec.default


def declare_parameters(
    node, schema: type, descriptor_type: type, *, read_only: bool | Callable[[str], bool] = True
) -> Any:
    """Declare ``schema``'s fields on ``node`` (an rclpy Node) and return the validated values.

    ``descriptor_type`` is rcl_interfaces' ParameterDescriptor (the node owns rclpy). ``read_only``
    says which parameters ``ros2 param set`` may not change: all, none, or a predicate on the name.
    Parameters are dynamically typed: rclpy would reject ``-p rate_hz:=25`` for a float (and infer
    no type at all for an empty list) with a traceback, while the schema accepts an integer for a
    number and names any other wrong value in one line. Raises ``ConfigError`` naming the node and
    the bad parameter.
    """
    frozen = read_only if callable(read_only) else (lambda _name: read_only)
    for spec in param_specs(schema):
        descriptor = descriptor_type(description=spec.help, read_only=frozen(spec.name), dynamic_typing=True)
        try:
            node.declare_parameter(spec.name, ros_default(spec), descriptor)
        except Exception as exc:  # rclpy's parameter exceptions: name the parameter, no traceback
            raise ConfigError(
                f"node {node.get_name()}: parameter {spec.name}: {exc}; fix the parameter (the YAML / "
                "-p name:=value / the launch file)"
            ) from None
    return read_parameters(node, schema)


def read_parameters(node, schema: type, changed: Mapping[str, Any] | None = None) -> Any:
    """The node's current values (with ``changed`` applied on top) as a validated schema instance."""
    values = {s.name: node.get_parameter(s.name).value for s in param_specs(schema)}
    values.update(changed or {})
    try:
        return from_flat(schema, values, where=f"node {node.get_name()}")
    except ConfigError as exc:
        raise ConfigError(f"{exc}; fix the parameter (ros2 param set / the YAML / the launch file)") from None


def wait_future(future, timeout_s: float, what: str) -> Any:
    """Block (outside the executor's threads) until an rclpy future completes; its result.

    The executor spinning in another thread completes the future; a callback sets an event, so
    this never spins the executor itself. Raises TimeoutError naming ``what``.
    """
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    if not done.wait(timeout_s):
        future.cancel()
        raise TimeoutError(f"{what} did not answer within {timeout_s:g} s")
    return future.result()


def call_service(client, request, timeout_s: float, what: str) -> Any:
    """Call an rclpy service from outside the executor's threads; its response.

    HardwareError when the service is missing or does not answer within ``timeout_s``: the
    services our nodes call stand for hardware (a simulator's reset, the arm's error recovery).
    """
    if not client.wait_for_service(timeout_sec=timeout_s):
        raise HardwareError(f"service {client.srv_name} ({what}) is not available")
    try:
        return wait_future(client.call_async(request), timeout_s, what)
    except TimeoutError as exc:
        raise HardwareError(f"service {client.srv_name}: {exc}") from None


def message_type(name: str) -> type:
    """The rclpy message class of ``"pkg/msg/Type"`` (what rosidl_runtime_py's get_message did)."""
    package, kind, cls = name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), cls)


class MissingInterfaceError(ImportError):
    """A ROS interface package the chosen configuration needs is not installed."""


def import_interfaces(module: str, what: str, *names: str) -> tuple:
    """``from module import names`` for interfaces only the real robot needs (franka_msgs,
    controller_manager_msgs: no wheels exist). ``what`` names the parameter that chose them.
    Raises ``MissingInterfaceError`` with one line naming the package and how to get it."""
    package = module.split(".")[0]
    try:
        imported = importlib.import_module(module)
    except ImportError:
        raise MissingInterfaceError(
            f"{what} needs the ROS package {package}, which is not installed: use the docker image "
            "(docker/compose.yaml) or build franka_ros2 with colcon and source its install/setup.bash "
            "(docs/ros.md); the simulator needs none of it"
        ) from None
    return tuple(getattr(imported, n) for n in names)


NAMED_ERRORS = (
    ConfigError,
    EncoderError,
    EncoderWorkerError,
    EpisodeError,
    HardwareError,
    PolicyError,
    LimitsError,
    MissingInterfaceError,
)  # their messages already name the problem and the fix: no traceback needed


def _flush_publishers(rclpy, node, timeout_s: float = 1.0) -> None:
    """Give reliable subscribers the node's last messages before the process exits (at most
    ``timeout_s`` in all: a subscriber that went away first must not hold the exit up)."""
    duration_type = importlib.import_module(f"{rclpy.__name__}.duration").Duration
    deadline = time.monotonic() + timeout_s
    for publisher in list(node.publishers):
        left = deadline - time.monotonic()
        if left <= 0:
            return
        with contextlib.suppress(Exception):  # a publisher already destroyed: nothing left to deliver
            publisher.wait_for_all_acked(duration_type(seconds=left))


def spin(rclpy, make_node: Callable[[], Any], *, name: str, args: list[str] | None = None) -> int:
    """Run one node to completion; returns the process exit status.

    ``name`` labels start-up errors (the node does not exist yet). The node may define
    ``finished`` (True ends the spin), ``exit_code`` and ``close()``; ``close()`` runs while the
    context is still valid, so what it publishes goes out. SIGINT and SIGTERM end the spin and
    exit 0 after ``close()``; a second signal kills the process as usual.

    Callbacks run on this thread (a SingleThreadedExecutor), so no callback may wait for another:
    threads that need an answer (error recovery, a simulator reset) wait with ``wait_future`` on
    their own thread. rclpy's MultiThreadedExecutor hands every callback to a thread pool and
    rebuilds its wait set after each hand-off: in the policy node (~100 messages/s) that took 4.1 s
    of GIL-holding CPU per 30 s instead of 1.6 s, and each hand-off could delay the 25 Hz control
    thread (bench/ros: command period p99 42-48 ms with it).
    """
    executors = rclpy.executors
    rclpy.init(args=args, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        stop.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL if sig == signal.SIGTERM else signal.default_int_handler)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    node = None
    code = 0
    try:
        freeze_heap()  # the imported libraries: collected and frozen before anyone talks to the node
        node = make_node()
        freeze_heap(collect=False)  # and what the node loaded, without a pause once its topics are up
        executor = executors.SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.is_set() and rclpy.ok() and not getattr(node, "finished", False):
            executor.spin_once(timeout_sec=0.1)
        code = 0 if stop.is_set() else int(getattr(node, "exit_code", 0))
    except (KeyboardInterrupt, executors.ExternalShutdownException):
        code = 0
    except NAMED_ERRORS as exc:
        label = node.get_name() if node is not None else name
        print(f"[{label}] error: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            if rclpy.ok():
                _flush_publishers(rclpy, node)
            node.destroy_node()
        rclpy.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
