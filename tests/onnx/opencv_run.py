"""Runs an ONNX file in OpenCV's DNN module (Debian python3-opencv, 4.6), independently
of denoise. Usage: python3 opencv_run.py MODEL.onnx INPUT.f32 N,H,W OUTPUT.f32
Inputs and outputs are raw little-endian float32; prints the output's shape.

OpenCV's Python binding turns a 3-D array into a 2-D image with channels, not a 3-D
blob, so the (N, H, W) images go in as (N, H, W, 1): the same values in the same order,
which the model's first Reshape takes alike."""
import sys

import cv2
import numpy as np

model, inp, dims, out = sys.argv[1:5]
shape = [int(d) for d in dims.split(",")]
x = np.fromfile(inp, dtype="<f4").reshape(shape + [1])
net = cv2.dnn.readNetFromONNX(model)
net.setInput(x)
y = np.ascontiguousarray(net.forward(), dtype="<f4")
y.tofile(out)
print(list(y.shape))
