"""Graph IR: the .tflite reader, per-layer analysis and the activation memory planner.

Nothing here imports TensorFlow, LiteRT or onnxruntime; `tflm_arena` imports tflite_micro only inside
its function.
"""

from edgekit.ir.graph import Graph, Operator, Quantization, Tensor
from edgekit.ir.tflite_reader import parse_tflite, read_tflite

__all__ = ["Graph", "Operator", "Quantization", "Tensor", "parse_tflite", "read_tflite"]
