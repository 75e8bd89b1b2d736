// denoise export: a trained model written for other runtimes (ONNX).
#include <fmt/core.h>

#include "commands.hpp"
#include "export/onnx.hpp"

namespace dn::app {

static RegisterCommand reg_export(48, [](CLI::App& app) {
  struct Flags {
    std::string run, format = "onnx", out, pads = "explicit";
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("export", "write a trained model (denoiser or classifier run folder) as ONNX");
  cmd->add_option("run", f->run, "run folder (denoise train, denoise classify train)")->required();
  cmd->add_option("--format", f->format, "file format")->check(CLI::IsMember({"onnx"}))->capture_default_str();
  cmd->add_option("--out", f->out, "file to write (written whole or not at all)")->required();
  cmd->add_option("--pads", f->pads,
                  "asymmetric padding as the operators' own pads (explicit: ONNX Runtime), or as a Slice / Pad "
                  "beside unpadded operators (slice: OpenCV 4.6, which refuses asymmetric pads)")
      ->capture_default_str();
  on_run(cmd, [f] {
    const OnnxOptions options{parse_pad_style(f->pads)};
    const OnnxExportResult result = export_run_onnx(f->run, f->out, options);
    fmt::print("{}: ONNX opset {}, {} bytes, batch{} free, pads {}\n", f->out, kOnnxOpset, result.bytes,
               result.free_size ? ", height and width" : "", f->pads);
  });
});

}  // namespace dn::app
