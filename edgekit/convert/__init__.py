"""Conversion of a float model into the artifacts (int8 TFLite, float and int8 QDQ ONNX) and their checks."""
