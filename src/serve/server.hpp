#pragma once
// `denoise serve`: a web page to draw a digit and watch it get noisy, denoised and read,
// and the JSON API behind it, over HTTP (cpp-httplib).
//
//   GET  /                 the page (web/, built into the program), /app.js, /style.css
//   GET  /healthz          {"status": "ok"}
//   GET  /api/models       the loaded runs: their configs, parameter counts and metrics
//   POST /api/noise        a picture in, the picture with seeded noise out (PNG)
//   POST /api/denoise      a picture in, the denoised picture out (PNG), with PSNR/SSIM
//                          against a reference when one is sent
//   POST /api/predict      a picture in, framed as an MNIST digit, noised if asked; the
//                          digit and its ten probabilities out (JSON), and those of the
//                          denoised digit when asked
//
// Pictures come as the body (Content-Type image/png or image/jpeg) or as multipart form
// data (part "image", and "reference" for /api/denoise). Options come in the query
// string. Errors are JSON {"error": "...", "status": N}: 400 bad input, 404 no such path, 405 wrong
// method, 411 no Content-Length (chunked bodies are refused: they have no bound), 413 body
// or picture too large, 415 wrong content type or encoding, 503 busy.
//
// Requests are read by a pool of connection threads and computed by a WorkerPool (each
// worker with its own copy of the models) behind a bounded queue. No path of a URL
// reaches the file system: the page's files are served from memory by exact name.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/sequential.hpp"

namespace dn {

struct ServeOptions {
  std::string host = "127.0.0.1";  // loopback unless another address is asked for
  int port = 8080;                 // 0: any free port (Server::port() tells which)
  int workers = 2;                 // inference threads, each with its own model copies
  int queue = 32;                  // requests that may wait for a worker; more are answered 503
  int connection_threads = 32;     // threads reading requests and writing answers; as many
                                   // accepted connections may wait for one, more wait unaccepted
  std::uint64_t max_body_bytes = 8u << 20;  // larger bodies: 413
  std::uint64_t max_pixels = 4'000'000;     // larger pictures (declared in their header): 413
  std::chrono::milliseconds max_wait{10'000};  // a request not started by a worker in this time: 503
  std::chrono::seconds io_timeout{10};         // reading a request, writing an answer
  // One line per request: method, path, status, milliseconds. Called from connection threads.
  std::function<void(const std::string&)> log;
};

// A loaded run folder and what the page and /api/models show of it.
struct ServedModel {
  std::filesystem::path run;
  nlohmann::json config;   // config.json
  nlohmann::json metrics;  // metrics.json, null when absent
  std::unique_ptr<Sequential> model;
};

struct ServedModels {
  ServedModel denoiser, classifier;
  std::optional<ServedModel> noisy_classifier;  // reads noisy digits; the classifier does when absent
};

// Loads the runs (DataError naming a folder that cannot be loaded; ArgumentError when a
// classifier does not give ten probabilities or the denoiser does not keep a 28x28 size).
ServedModels load_served_models(const std::filesystem::path& denoiser, const std::filesystem::path& classifier,
                                const std::optional<std::filesystem::path>& noisy_classifier);

class Server {
 public:
  // ArgumentError for options out of range.
  Server(ServedModels models, const ServeOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port; ArgumentError("port") when that fails. Returns the port bound.
  int bind();
  // Serves until stop(): then stops accepting, lets requests in flight finish, and returns.
  void run();
  // From any thread (a signal watcher's, a test's); run() returns soon after.
  void stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace dn
