"""The shipped style zoo: contract-v1 ONNX files produced by ``rtstyle train`` (see README.md here)."""
