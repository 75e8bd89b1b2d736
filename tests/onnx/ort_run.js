// Runs an ONNX file in ONNX Runtime (npm onnxruntime-node, CPU), independently of denoise.
// Usage: node ort_run.js MODEL.onnx INPUT.f32 N,H,W OUTPUT.f32
// Inputs and outputs are raw little-endian float32; prints the output's dims as JSON.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, '..', '..', 'tools', 'onnxruntime', 'node_modules', 'onnxruntime-node'));

async function main() {
  const [modelPath, inputPath, dimsText, outputPath] = process.argv.slice(2);
  const dims = dimsText.split(',').map(Number);
  const bytes = fs.readFileSync(inputPath);
  const input = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const session = await ort.InferenceSession.create(modelPath, {intraOpNumThreads: 1});
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', input, dims)};
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  fs.writeFileSync(outputPath, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  console.log(JSON.stringify({dims: out.dims, input: session.inputNames[0], output: session.outputNames[0]}));
}

main().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
