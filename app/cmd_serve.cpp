// denoise serve: the web page and JSON API (serve/server.hpp) until SIGINT or SIGTERM.
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

#include <fmt/core.h>

#include "commands.hpp"
#include "core/error.hpp"
#include "serve/server.hpp"

namespace dn::app {

static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int signal) {
  const int saved = errno;
  const char c = char(signal);
  [[maybe_unused]] const auto n = write(stop_pipe[1], &c, 1);
  std::signal(signal, SIG_DFL);
  errno = saved;
}

static RegisterCommand reg_serve(47, [](CLI::App& app) {
  struct Flags {
    std::string denoiser, classifier, noisy_classifier;
    ServeOptions options;
    int max_wait_ms = 10'000;
    bool quiet = false;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("serve", "a web page to draw digits and watch them denoised and read, and a JSON API");
  cmd->add_option("--denoiser", f->denoiser, "denoiser run folder (denoise train)")->required();
  cmd->add_option("--classifier", f->classifier, "classifier run folder (denoise classify train)")->required();
  cmd->add_option("--noisy-classifier", f->noisy_classifier,
                  "classifier run folder trained on noisy digits: reads the noisy input (default: --classifier)");
  cmd->add_option("--host", f->options.host, "address to listen on; other machines reach it only if it is not loopback")
      ->default_val("127.0.0.1");
  cmd->add_option("--port", f->options.port, "port to listen on (0: any free port)")->default_val(8080);
  cmd->add_option("--workers", f->options.workers, "inference threads, each with its own copy of the models")
      ->default_val(2);
  cmd->add_option("--queue", f->options.queue, "requests that may wait for a worker; more are answered 503")
      ->default_val(32);
  cmd->add_option("--max-body-bytes", f->options.max_body_bytes, "largest request body in bytes (413 above)")
      ->default_val(8u << 20);
  cmd->add_option("--max-pixels", f->options.max_pixels, "largest picture in pixels (413 above)")
      ->default_val(4'000'000);
  cmd->add_option("--max-wait", f->max_wait_ms, "milliseconds a request may wait for a worker (503 after)")
      ->default_val(10'000);
  cmd->add_flag("--quiet", f->quiet, "no log line per request");
  on_run(cmd, [f] {
    if (f->max_wait_ms < 0) throw ArgumentError("max_wait", fmt::format("must be >= 0 (got {})", f->max_wait_ms));
    f->options.max_wait = std::chrono::milliseconds(f->max_wait_ms);
    if (!f->quiet)
      f->options.log = [](const std::string& line) {
        static std::mutex m;
        std::lock_guard lock(m);
        fmt::print("{}\n", line);
        std::fflush(stdout);
      };
    std::optional<std::filesystem::path> noisy;
    if (!f->noisy_classifier.empty()) noisy = f->noisy_classifier;

    Server server(load_served_models(f->denoiser, f->classifier, noisy), f->options);
    const int port = server.bind();
    // A signal handler may do almost nothing: it passes the signal down a pipe to a
    // thread that stops the server (requests in flight are answered), and restores
    // the default so that a second Ctrl-C ends the program at once.
    if (pipe(stop_pipe) != 0) throw std::runtime_error("serve: cannot create a pipe");
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    fmt::print("denoise serve: http://{}:{}/ (Ctrl-C stops)\n", f->options.host, port);
    std::fflush(stdout);
    std::atomic<int> caught{0};
    std::thread watcher([&] {
      char signal = 0;
      while (read(stop_pipe[0], &signal, 1) < 0 && errno == EINTR) {
      }
      caught = signal;
      server.stop();
    });
    server.run();
    if (caught == 0) {  // the server ended on its own: wake the watcher
      const char none = 0;
      while (write(stop_pipe[1], &none, 1) < 0 && errno == EINTR) {
      }
    }
    watcher.join();
    if (caught == SIGINT || caught == SIGTERM)
      fmt::print("denoise serve: stopped ({}), requests in flight answered\n", caught == SIGINT ? "SIGINT" : "SIGTERM");
  });
});

}  // namespace dn::app
