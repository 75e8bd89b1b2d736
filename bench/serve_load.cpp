// serve_load: a bounded load on a running `denoise serve` over loopback. C clients, each
// on its own keep-alive connection, send N requests in all (POST /api/predict with the
// denoiser, a digit-like picture each, or another endpoint) and the latencies, statuses
// and throughput are printed as JSON. scripts/load_test.sh starts the server and runs it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "data/image_codec.hpp"

namespace {

// A 120x140 picture of three thick strokes, different for each k.
std::string stroke_png(int k) {
  dn::Picture p(120, 140, 1, 8);
  std::uint32_t state = 2654435761u * std::uint32_t(k + 1);
  const auto next = [&] { return (state = state * 1664525u + 1013904223u) >> 8; };
  int x = 30 + int(next() % 60), y = 30 + int(next() % 80);
  for (int s = 0; s < 3; ++s) {
    const int x2 = 20 + int(next() % 80), y2 = 20 + int(next() % 100);
    for (int t = 0; t <= 100; ++t)
      for (int dy = -6; dy <= 6; ++dy)
        for (int dx = -6; dx <= 6; ++dx) {
          const int px = x + (x2 - x) * t / 100 + dx, py = y + (y2 - y) * t / 100 + dy;
          if (px >= 0 && px < 120 && py >= 0 && py < 140) p.set_level(std::size_t(py * 120 + px), 255);
        }
    x = x2, y = y2;
  }
  return dn::encode_png(p);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("serve_load: latency and throughput of denoise serve on loopback");
  int port = 8080, clients = 16, requests = 2000;
  std::string path = "/api/predict?noise=gaussian:0.5&denoise=1";
  app.add_option("--port", port, "the server's port on 127.0.0.1");
  app.add_option("--clients", clients, "concurrent clients, one connection each");
  app.add_option("--requests", requests, "requests in all");
  app.add_option("--path", path, "POST target");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> pictures;
  for (int k = 0; k < 8; ++k) pictures.push_back(stroke_png(k));
  std::atomic<int> next{0};
  std::mutex m;
  std::vector<double> latencies;
  std::map<int, int> statuses;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_read_timeout(60, 0);
      std::vector<double> mine;
      std::map<int, int> seen;
      for (int i; (i = next++) < requests;) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = client.Post(path, pictures[std::size_t(i) % pictures.size()], "image/png");
        mine.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        ++seen[r ? r->status : -1];  // -1: no answer (connection error)
      }
      std::lock_guard lock(m);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
      for (auto [s, n] : seen) statuses[s] += n;
    });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  const auto at = [&](double q) { return latencies[std::min(latencies.size() - 1, std::size_t(q * double(latencies.size())))]; };
  nlohmann::json out = {{"requests", latencies.size()},
                        {"clients", clients},
                        {"path", path},
                        {"seconds", seconds},
                        {"requests_per_second", double(latencies.size()) / seconds},
                        {"p50_ms", at(0.50)},
                        {"p90_ms", at(0.90)},
                        {"p99_ms", at(0.99)},
                        {"max_ms", latencies.back()},
                        {"errors", latencies.size() - std::size_t(statuses[200])}};
  for (auto [s, n] : statuses) out["statuses"][std::to_string(s)] = n;
  fmt::print("{}\n", out.dump(2));
  return out["errors"].get<std::size_t>() == 0 ? 0 : 1;
}
