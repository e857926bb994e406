"""Code generation from the Graph IR: C arrays and the TFLM bundle (model data, op resolver, arena
size). Nothing here imports TensorFlow."""

from edgekit.codegen.tflm_bundle import UnsupportedOpError, bundle_filenames, tflm_arena_size, tflm_bundle

__all__ = ["UnsupportedOpError", "bundle_filenames", "tflm_arena_size", "tflm_bundle"]
