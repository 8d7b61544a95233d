"""Plumbing shared by our ROS 2 nodes, without importing rclpy (the node passes rclpy in).

Parameters: a node calls ``declare_parameters(self, Schema, descriptor)`` once in its constructor; every
leaf field of the schema (``vipflow.config_schema``) becomes a parameter with its default and
its help text, and the values come back validated as the schema instance. The static tests read
the same schema, so what a launch file or a YAML sets is checked against what the node declares.

Lifecycle: ``spin(rclpy, make_node)`` initialises rclpy, builds the node, spins it until Ctrl-C,
a shutdown, or the node reports ``finished`` (a recording or an evaluation that ran to its end),
and turns our named startup errors (bad parameter, missing weights, unreachable robot) into one
clear log line and exit status 1 instead of a traceback.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from vipflow.config_schema import ConfigError, ParamSpec, from_flat, param_specs


def ros_default(spec: ParamSpec) -> Any:
    """The default as a ROS parameter value (lists for tuples)."""
    return list(spec.default) if isinstance(spec.default, tuple) else spec.default


def needs_dynamic_typing(spec: ParamSpec) -> bool:
    """An empty list default gives rclpy no element type to infer (it would pick BYTE_ARRAY and
    then reject the string list a YAML file sets), so such parameters are declared dynamically
    typed; the schema checks their values instead."""
    return isinstance(spec.default, tuple) and not spec.default


def declare_parameters(
    node, schema: type, descriptor_type: type, *, read_only: bool | Callable[[str], bool] = True
) -> Any:
    """Declare ``schema``'s fields on ``node`` (an rclpy Node) and return the validated values.

    ``descriptor_type`` is rcl_interfaces' ParameterDescriptor (the node owns rclpy). ``read_only``
    says which parameters ``ros2 param set`` may not change: all, none, or a predicate on the name.
    Raises ``ConfigError`` naming the node and the bad parameter.
    """
    frozen = read_only if callable(read_only) else (lambda _name: read_only)
    for spec in param_specs(schema):
        descriptor = descriptor_type(
            description=spec.help, read_only=frozen(spec.name), dynamic_typing=needs_dynamic_typing(spec)
        )
        node.declare_parameter(spec.name, ros_default(spec), descriptor)
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


def _named_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message already names the problem and the fix (no traceback needed)."""
    from vipflow.encoders.errors import EncoderError
    from vipflow.episodes.errors import EpisodeError
    from vipflow.hardware import HardwareError
    from vipflow.policy.errors import PolicyError
    from vipflow.runtime.limits import LimitsError

    return (ConfigError, EncoderError, EpisodeError, HardwareError, PolicyError, LimitsError)


def spin(rclpy, make_node: Callable[[], Any], *, threads: int = 1, args: list[str] | None = None) -> int:
    """Run one node to completion; returns the process exit status.

    ``threads`` > 1 uses a MultiThreadedExecutor (service calls made from callbacks need it).
    The node may define ``finished`` (True ends the spin), ``exit_code`` and ``close()``.
    """
    executors = rclpy.executors
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        if threads > 1:
            executor = executors.MultiThreadedExecutor(num_threads=threads)
        else:
            executor = executors.SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok() and not getattr(node, "finished", False):
            executor.spin_once(timeout_sec=0.1)
        return int(getattr(node, "exit_code", 0))
    except (KeyboardInterrupt, executors.ExternalShutdownException):
        return 0
    except _named_errors() as exc:
        name = node.get_name() if node is not None else getattr(make_node, "__name__", "node")
        print(f"[{name}] error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
