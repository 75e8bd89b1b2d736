"""ONNX's own checker on an exported file: onnx.checker.check_model with full_check
(which runs strict shape inference too). Usage: python3 check_model.py MODEL.onnx
Prints the opset, IR version and input/output names; exit status 1 if the checker refuses it."""
import sys

import onnx

model = onnx.load(sys.argv[1])
try:
    onnx.checker.check_model(model, full_check=True)
except onnx.checker.ValidationError as e:
    print(f"onnx.checker: {e}")
    sys.exit(1)
opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
print(f"ok: ir_version {model.ir_version}, opset {opsets}, "
      f"inputs {[i.name for i in model.graph.input]}, outputs {[o.name for o in model.graph.output]}")
