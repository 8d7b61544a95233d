"""How frames are embedded: the inference runtime and precision, declared once.

Every schema that loads an encoder (task YAML ``encoder:``, ``vipflow rewards``/``train``/``demo``/
``evaluate run``, the reward and policy nodes) takes its ``runtime`` / ``precision`` fields from
:func:`runtime_option` / :func:`precision_option`, so the choices, the default and the help (and
through them the CLI flags ``--runtime`` / ``--precision``, the YAML keys and the ROS parameters)
are the same everywhere. Kept torch-free (``vipflow.encoders`` loads torch) so configs and node
parameters can be read without it; ``vipflow.encoders.inference`` implements them
(docs/encoders.md, Inference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vipflow.config_schema import option

RUNTIMES = ("eager", "openvino", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "int8", "fp16")
AUTO = "auto"


def runtime_option(default: str | None = AUTO, **extra: Any) -> Any:
    """The ``runtime`` field of a schema (``default=None``: taken from a lower layer, e.g. the task YAML)."""
    return option(
        default, "encoder inference: eager (PyTorch, the reference), openvino, onnxruntime or auto "
        "(the fastest installed for the precision)", choices=(*RUNTIMES, AUTO), flag="--runtime", **extra,
    )


def precision_option(default: str | None = AUTO, **extra: Any) -> Any:
    """The ``precision`` field of a schema (``default=None``: taken from a lower layer)."""
    return option(
        default, "encoder precision: fp32 (equal to eager), bf16 (CPUs with native bf16), int8 (OpenVINO, "
        "quantized; CPUs with VNNI/AMX-INT8; run `vipflow encoders check` on your episodes first), fp16 "
        "(GPU) or auto (the fastest passing the agreement gate against fp32)", choices=(*PRECISIONS, AUTO),
        flag="--precision", **extra,
    )


@dataclass(frozen=True)
class InferenceConfig:
    """A runtime and a precision on their own, for tools that choose nothing else (bench/loop)."""

    runtime: str = runtime_option()
    precision: str = precision_option()
