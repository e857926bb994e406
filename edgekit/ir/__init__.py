"""Graph IR: the .tflite reader, per-layer analysis and the activation memory planner.

Nothing here imports TensorFlow, LiteRT or onnxruntime. `edgekit.ir.tflm_arena` (not imported here)
measures TFLM's own arena by running tflite-micro in a child process.
"""

from edgekit.ir.analysis import LayerAnalysis, ModelAnalysis, analyze
from edgekit.ir.graph import Graph, Operator, Quantization, Tensor
from edgekit.ir.planner import BufferPlan, MemoryPlan, OpMemory, check_plan, plan_memory
from edgekit.ir.tflite_reader import parse_tflite, read_tflite

__all__ = [
    "BufferPlan",
    "Graph",
    "LayerAnalysis",
    "MemoryPlan",
    "ModelAnalysis",
    "OpMemory",
    "Operator",
    "Quantization",
    "Tensor",
    "analyze",
    "check_plan",
    "parse_tflite",
    "plan_memory",
    "read_tflite",
]
