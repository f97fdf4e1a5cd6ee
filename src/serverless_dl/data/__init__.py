"""The clothing dataset and the models made from it.

The synthetic dataset (`clothing`) and its loader (`dataset`), a fingerprint of a model's
weights (`fingerprint`), the float32 TFLite conversion they share (`conversion`), and the
generated model files beside last week's model: the ONNX file (`onnx_model`), the
successor of lesson 10 (`successor_model`), and the backbone and heads of lesson 11
(`composition`). Each generator has a `--check` that CI runs.

May import: serverless_dl.base, serverless_dl.function.
"""
