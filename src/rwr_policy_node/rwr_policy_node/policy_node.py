"""rwr_policy_node: an offline RWR/BC policy driving a Franka through franka_ros2 at 25 Hz.

Two executables share this adapter:

``rwr_policy_node``  serves the policy: ``~/start`` runs the 25 Hz loop (``horizon`` ticks, or
                     until ``~/stop``), ``~/stop`` holds the arm; status on ``status_topic``.
``evaluate``         runs an evaluation session: ``rollouts`` rollouts of ``horizon`` ticks, each
                     recorded as an episode, judged by the operator's keys (``keys`` tool) or a
                     simulator's success topic, summarised in a results ledger; then exits.

rclpy only carries bytes and calls services/actions. Image, joint states, end-effector pose and
gripper joints arrive raw into ``vipflow.ros.topic_hardware``'s camera and robot; every command
leaves the core's safety layer as PoseStamped CDR for the Cartesian impedance controller's
``equilibrium_pose`` (or a JointTrajectory). The gripper is commanded through franka_msgs'
Move/Grasp actions, and an FCI error is cleared with the ErrorRecovery action followed by
re-activating the hardware component and the controller (franka_hardware's documented sequence).
"""

from __future__ import annotations

import json
import threading

import rclpy
import rclpy.executors
import rclpy.qos
from geometry_msgs.msg import PoseStamped
from lifecycle_msgs.msg import State
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from std_msgs.msg import Bool, Float32MultiArray, Float64, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from rwr_policy_node.params import EvaluateNodeParams, PolicyNodeParams
from rwr_policy_node.policy_runner import (
    CallbackBackend,
    PolicyRunner,
    gripper_goal,
    load_policy_with_encoder,
)
from vipflow.config_schema import ConfigError
from vipflow.hardware import RobotError
from vipflow.policy.errors import PolicyError
from vipflow.ros.node_support import (
    call_service,
    declare_parameters,
    import_interfaces,
    message_type,
    spin,
    wait_future,
)
from vipflow.ros.remote_keys import OperatorLink
from vipflow.ros.topic_hardware import (
    TopicCamera,
    TopicRobot,
    float32_array_cdr,
    float64_cdr,
    hardware_subscriptions,
    string_cdr,
)
from vipflow.runtime.loop import TickRecord

STATUS_EVERY_TICKS = 5  # 5 Hz status at 25 Hz


class PolicyNode(Node):
    """Hardware adapter shared by both executables: topics in, commands out, gripper, recovery."""

    def __init__(self, name: str = "rwr_policy_node", schema: type = PolicyNodeParams) -> None:
        super().__init__(name)
        self.params = declare_parameters(self, schema, ParameterDescriptor)
        p, hw = self.params, self.params.hardware
        if not p.policy:
            raise ConfigError(
                f"node {name}: parameter 'policy' is empty; pass policy:=<run dir or checkpoint>"
            )
        self.policy, self.encoder, recipe = load_policy_with_encoder(
            p.policy, p.encoder_weights, p.device, runtime=p.encoder_runtime, precision=p.encoder_precision
        )
        self.encoder_process = recipe if p.perception == "process" else None
        self.space = self.policy.config.action_space
        self.camera = TopicCamera(hw.image_topic, ros_now_ns=self._ros_now)
        pose_out = self.create_publisher(PoseStamped, p.command_topic, 10)
        joints_out = (
            self.create_publisher(JointTrajectory, p.joint_command_topic, 10)
            if p.joint_command_topic
            else None
        )
        send_gripper = None
        if hw.use_gripper and p.gripper_command_topic:  # a simulator takes the width on a topic
            send_gripper = self._publish_gripper_width
            self.gripper_out = self.create_publisher(Float64, p.gripper_command_topic, 10)
        elif hw.use_gripper and p.gripper_move_action:
            send_gripper = self._send_gripper
            self.Move, self.Grasp = import_interfaces(
                "franka_msgs.action", f"gripper_move_action:={p.gripper_move_action}", "Move", "Grasp"
            )
            self.move_client = ActionClient(self, self.Move, p.gripper_move_action)
            self.grasp_client = ActionClient(self, self.Grasp, p.gripper_grasp_action)
        self.robot = TopicRobot(
            pose_out.publish,
            publish_joints=joints_out.publish if joints_out else None,
            send_gripper=send_gripper,
            recover_fn=self._recover if p.error_recovery_action else None,
            config=hw,
            period_s=1.0 / p.rate_hz,
            ros_now_ns=self._ros_now,
        )
        for msgtype, topic, callback in hardware_subscriptions(hw, self.camera, self.robot):
            self.create_subscription(
                message_type(msgtype), topic, callback, qos_profile_sensor_data, raw=True
            )
        self.action_out = self.create_publisher(Float32MultiArray, p.action_topic, 10)
        self.status_out = self.create_publisher(String, p.status_topic, 10)
        if p.error_recovery_action:
            what = f"error_recovery_action:={p.error_recovery_action}"
            (self.ErrorRecovery,) = import_interfaces("franka_msgs.action", what, "ErrorRecovery")
            self.SetHardwareComponentState, self.SwitchController = import_interfaces(
                "controller_manager_msgs.srv", what, "SetHardwareComponentState", "SwitchController"
            )
            self.recovery_client = ActionClient(self, self.ErrorRecovery, p.error_recovery_action)
            cm = p.controller_manager.rstrip("/")
            self.hw_state_client = self.create_client(
                self.SetHardwareComponentState, f"{cm}/set_hardware_component_state"
            )
            self.switch_client = self.create_client(self.SwitchController, f"{cm}/switch_controller")
        self.finished = False
        self.exit_code = 0

    def _ros_now(self) -> int:
        return self.get_clock().now().nanoseconds

    # -- gripper and recovery (called from the control thread) --------------------------------------
    def _publish_gripper_width(self, width: float) -> None:
        self.gripper_out.publish(float64_cdr(width))

    def _send_gripper(self, width: float) -> None:
        p = self.params
        measured = self.robot.state().gripper_width
        if gripper_goal(width, measured, p.hardware.gripper_deadband_m) == "grasp":
            client, goal = (
                self.grasp_client,
                self.Grasp.Goal(width=width, speed=p.gripper_speed, force=p.gripper_force),
            )
            goal.epsilon.inner = goal.epsilon.outer = 0.08  # succeed at whatever width the object stops us
        else:
            client, goal = self.move_client, self.Move.Goal(width=width, speed=p.gripper_speed)
        if not client.server_is_ready():
            self.get_logger().warning(
                f"gripper action server not available; gripper command {width:.3f} m dropped",
                throttle_duration_sec=5.0,
            )
            return
        client.send_goal_async(goal)  # fire and forget: the next command supersedes it

    def _recover(self) -> None:
        """franka_hardware's sequence: ErrorRecovery, hardware component active, controller active."""
        p = self.params
        t = p.service_timeout_s
        if not self.recovery_client.wait_for_server(timeout_sec=t):
            raise RobotError(f"ErrorRecovery action {p.error_recovery_action} is not available")
        handle = wait_future(
            self.recovery_client.send_goal_async(self.ErrorRecovery.Goal()), t, "ErrorRecovery goal"
        )
        if not handle.accepted:
            raise RobotError("the robot rejected ErrorRecovery; check Desk (is the user stop released?)")
        wait_future(handle.get_result_async(), t, "ErrorRecovery")
        if p.hardware_component:
            req = self.SetHardwareComponentState.Request(
                name=p.hardware_component, target_state=State(id=State.PRIMARY_STATE_ACTIVE, label="active")
            )
            res = self._call(self.hw_state_client, req, "set_hardware_component_state")
            if not res.ok:
                raise RobotError(f"controller manager refused to activate {p.hardware_component}")
        if p.controller:
            req = self.SwitchController.Request(
                activate_controllers=[p.controller],
                strictness=self.SwitchController.Request.BEST_EFFORT,
                activate_asap=True,
            )
            req.timeout.sec = int(t)
            if not self._call(self.switch_client, req, "switch_controller").ok:
                raise RobotError(f"controller manager could not re-activate {p.controller}")
        self.get_logger().info("robot recovered")

    def _call(self, client, request, what: str):
        return call_service(client, request, self.params.service_timeout_s, what)

    # -- output ------------------------------------------------------------------------------------
    def publish_tick(self, rec: TickRecord) -> None:
        if rec.action is not None:
            self.action_out.publish(float32_array_cdr(rec.action, self.space))
        if rec.index % STATUS_EVERY_TICKS == 0:
            self.publish_status(
                {
                    "state": "holding" if rec.target is None else "moving",
                    "tick": rec.index,
                    "hold_reason": rec.hold_reason,
                }
            )

    def publish_status(self, status: dict) -> None:
        self.status_out.publish(string_cdr(json.dumps(status)))


class ServeNode(PolicyNode):
    """``rwr_policy_node``: ~/start and ~/stop services around the control loop."""

    def __init__(self) -> None:
        super().__init__("rwr_policy_node", PolicyNodeParams)
        p = self.params
        self.runner = PolicyRunner(
            self.camera,
            self.robot,
            self.encoder,
            self.policy,
            p.safety,
            rate_hz=p.rate_hz,
            task=p.task or None,
            torch_threads=p.torch_threads,
            realtime_priority=p.rt_priority or None,
            encoder_process=self.encoder_process,
            on_tick=self.publish_tick,
            on_done=self._on_done,
        )
        self.runner.open()
        self.create_service(Trigger, "~/start", self._start)
        self.create_service(Trigger, "~/stop", self._stop)
        if p.autostart:
            self._autostart = self.create_timer(0.5, self._autostart_once)
        self.get_logger().info(
            f"policy {p.policy} ({self.space}) on encoder {self.encoder.name}/{self.encoder.arch}; "
            f"commands -> {p.command_topic}; call ~/start to move"
        )

    def _autostart_once(self) -> None:
        self._autostart.cancel()
        self.get_logger().info(self.runner.start(self.params.horizon)[1])

    def _start(self, request, response):
        response.success, response.message = self.runner.start(self.params.horizon)
        self.get_logger().info(f"~/start: {response.message}")
        return response

    def _stop(self, request, response):
        response.success, response.message = self.runner.stop("~/stop service")
        return response

    def _on_done(self, result, error) -> None:
        status = self.runner.status()
        self.publish_status(status)
        if error is not None:
            self.get_logger().error(f"policy run failed: {error}")
        else:
            self.get_logger().info(f"policy run ended after {result.ticks} ticks: {result.stop_reason}")

    def close(self) -> None:
        """Stop a run (the arm holds, its final status goes out), then say the node is going."""
        self.runner.stop("node shutting down")
        self.runner.wait(5.0)
        self.publish_status({**self.runner.status(), "state": "shutdown"})
        self.runner.close()


class EvaluateNode(PolicyNode):
    """``evaluate``: N recorded rollouts, judged, into a results ledger; exits when done."""

    def __init__(self) -> None:
        super().__init__("evaluate", EvaluateNodeParams)
        from vipflow.evaluation.backend import HardwareBackend
        from vipflow.evaluation.operator import ConsoleOperator
        from vipflow.evaluation.session import EvaluationSession, Goal, evaluation_from_task
        from vipflow.policy.goals import goal_embedding

        p: EvaluateNodeParams = self.params
        self.link = OperatorLink.on_node(self, rclpy.qos, String, p.key_topic, p.prompt_topic)
        operator = ConsoleOperator(ask=self.link.ask)
        if p.judge == "topic":
            self._success = False
            self.create_subscription(Bool, p.success_topic, self._on_success, 10)
            self.reset_client = self.create_client(Trigger, p.reset_service)
            backend = CallbackBackend(
                self.camera,
                self.robot,
                reset_fn=self._reset_sim,
                success_fn=lambda: self._success,
                details={"success_topic": p.success_topic},
                perception=p.perception,
            )
        else:
            backend = HardwareBackend(
                self.camera, self.robot, name="franka_ros2", details={"command_topic": p.command_topic},
                perception=p.perception,
            )
        try:
            task = p.task or self.policy.config.only_task()
        except ValueError as exc:
            raise ConfigError(f"node evaluate: policy {p.policy} {exc}; set the task parameter") from None
        try:
            goal = Goal(
                goal_embedding(self.encoder, p.goal, task=task), self.encoder.similarity, p.goal.describe()
            )
        except PolicyError as exc:  # success is judged anyway; rewards are a bonus, not a requirement
            self.get_logger().warning(f"rollouts are recorded without /reward: no goal ({exc})")
            goal = None
        # The same layout and encoder record as `vipflow evaluate run` (`vipflow evaluate table` reads both).
        config, info = evaluation_from_task(
            task, self.policy, p.policy, self.encoder, name=p.policy_name, output_dir=p.output_dir or None,
            encoder_weights=p.encoder_weights, seed=p.seed, rollouts=p.rollouts, horizon=p.horizon,
            rate_hz=p.rate_hz, goal_text=p.goal.text, image_format=p.image_format,
        )
        self.session = EvaluationSession(
            backend,
            self.encoder,
            self.policy,
            config,
            operator,
            limits=p.safety,
            goal=goal,
            encoder_info=info,
            torch_threads=p.torch_threads,
            realtime_priority=p.rt_priority or None,
            encoder_factory=self.encoder_process,
        )
        self.output = config.output_dir
        self._thread = threading.Thread(target=self._run, name="evaluation", daemon=True)
        self._thread.start()

    def _on_success(self, msg: Bool) -> None:
        self._success = bool(msg.data)

    def _reset_sim(self, index: int) -> None:
        res = self._call(self.reset_client, Trigger.Request(), "simulator reset")
        if not res.success:
            raise RobotError(f"simulator reset failed: {res.message}")
        self._success = False

    def _run(self) -> None:
        try:
            ledger = self.session.run()
            s = ledger.summary()
            lo, hi = s["wilson95"]
            self.link.say(
                f"evaluation done: {s['successes']}/{s['n']} successes (Wilson 95%: {100 * lo:.0f}-"
                f"{100 * hi:.0f}%), {s['aborted']} aborted; ledger {self.session.ledger_path}"
            )
        except Exception as exc:
            self.link.say(f"evaluation failed: {exc}")
            self.exit_code = 1
        finally:
            self.finished = True

    def close(self) -> None:
        self.link.stop.set()
        self._thread.join(timeout=10.0)


def main(args: list[str] | None = None) -> int:
    return spin(rclpy, ServeNode, name="rwr_policy_node", args=args)


def evaluate_main(args: list[str] | None = None) -> int:
    return spin(rclpy, EvaluateNode, name="evaluate", args=args)


if __name__ == "__main__":
    raise SystemExit(main())
