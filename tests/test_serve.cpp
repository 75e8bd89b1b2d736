// denoise serve over loopback: the API's answers equal the CLI's for the same pictures,
// alone and under concurrent clients; every error has its status and a JSON body;
// hostile bodies (a decompression bomb, truncated pictures, wrong types, oversized or
// chunked bodies) are refused without harm; a full queue answers 503; a stop lets the
// requests in flight finish. The models are the committed runs in models/.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/image_codec.hpp"
#include "io/safetensors.hpp"
#include "serve/server.hpp"
#include "serve/worker_pool.hpp"
#include "support/test_support.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::run_denoise;
using test::TempDir;

const fs::path kDenoiser = fs::path(DENOISE_SOURCE_DIR) / "models/seed-mnist-gaussian0.5";
const fs::path kClassifier = fs::path(DENOISE_SOURCE_DIR) / "models/classifier-mnist-clean";

// A server on a free loopback port, serving from its own thread until destroyed.
struct RunningServer {
  explicit RunningServer(ServeOptions options = quiet_options(),
                         const std::optional<fs::path>& noisy_classifier = std::nullopt)
      : server(load_served_models(kDenoiser, kClassifier, noisy_classifier), options) {
    port = server.bind();
    thread = std::thread([this] { server.run(); });
  }
  ~RunningServer() {
    server.stop();
    thread.join();
  }
  static ServeOptions quiet_options() {
    ServeOptions o;
    o.port = 0;
    return o;
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    return c;
  }
  Server server;
  int port = 0;
  std::thread thread;
};

// Gray pictures of digit-like strokes on black, different for each k: thick lines
// between seeded points, at sizes other than 28x28 so that framing does its work.
Picture stroke_picture(int k, int width = 120, int height = 140) {
  Picture p(width, height, 1, 8);
  std::uint32_t state = 2654435761u * std::uint32_t(k + 1);
  const auto next = [&] { return (state = state * 1664525u + 1013904223u) >> 8; };
  int x = 30 + int(next() % 60), y = 30 + int(next() % 80);
  for (int s = 0; s < 3; ++s) {
    const int x2 = 20 + int(next() % 80), y2 = 20 + int(next() % 100);
    for (int t = 0; t <= 100; ++t) {
      const int cx = x + (x2 - x) * t / 100, cy = y + (y2 - y) * t / 100;
      for (int dy = -6; dy <= 6; ++dy)
        for (int dx = -6; dx <= 6; ++dx) {
          const int px = cx + dx, py = cy + dy;
          if (px >= 0 && px < width && py >= 0 && py < height) p.set_level(std::size_t(py * width + px), 255);
        }
    }
    x = x2, y = y2;
  }
  return p;
}

std::string png_of(const Picture& p) { return encode_png(p); }

std::uint32_t crc(const std::string& type, const std::string& data) {
  uLong c = crc32(0, reinterpret_cast<const Bytef*>(type.data()), uInt(type.size()));
  return std::uint32_t(crc32(c, reinterpret_cast<const Bytef*>(data.data()), uInt(data.size())));
}

std::string be32(std::uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(std::uint32_t(data.size())) + type + data + be32(crc(type, data));
}

// A valid PNG header declaring width x height 8-bit gray pixels, and a few compressed
// rows: a small body that would decompress to width*height bytes.
std::string bomb_png(std::uint32_t width, std::uint32_t height) {
  std::string ihdr = be32(width) + be32(height) + std::string("\x08\x00\x00\x00\x00", 5);
  std::string rows(std::size_t(width + 1) * 4, '\0');
  uLongf size = compressBound(uLong(rows.size()));
  std::string idat(size, '\0');
  compress(reinterpret_cast<Bytef*>(idat.data()), &size, reinterpret_cast<const Bytef*>(rows.data()), uLong(rows.size()));
  idat.resize(size);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", idat) + png_chunk("IEND", "");
}

// Sends raw bytes to the server and returns its answer: headers and Content-Length bytes
// of body, or what came before it closed (or 5 s passed).
std::string raw_request(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(std::uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size()));
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) {
    out.append(buf, std::size_t(n));
    const std::size_t end = out.find("\r\n\r\n"), length = out.find("Content-Length: ");
    if (end != std::string::npos && length != std::string::npos && length < end &&
        out.size() >= end + 4 + std::stoul(out.substr(length + 16)))
      break;
  }
  close(fd);
  return out;
}

int raw_status(const std::string& answer) {
  return answer.size() > 12 && answer.starts_with("HTTP/1.1 ") ? std::stoi(answer.substr(9, 3)) : -1;
}

// The status and error of a JSON error answer (the test fails when it is not one).
void expect_json_error(const httplib::Result& r, int status, const std::string& part = "") {
  ASSERT_TRUE(r) << "no answer (" << httplib::to_string(r.error()) << ")";
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  const json j = json::parse(r->body);
  EXPECT_EQ(j.at("status"), status);
  EXPECT_NE(j.at("error").get<std::string>().find(part), std::string::npos) << j.dump();
}

// The same, naming the request in a failure's message.
#define EXPECT_JSON_ERROR(...)          \
  do {                                  \
    SCOPED_TRACE(#__VA_ARGS__);         \
    expect_json_error(__VA_ARGS__);     \
  } while (0)

// ---- the worker pool --------------------------------------------------------------

TEST(WorkerPool, RunsJobsOnCopiesPassesErrorsAndRefusesWhenFull) {
  WorkerPool pool(nullptr, nullptr, nullptr, 1, 1, std::chrono::milliseconds(10'000));
  EXPECT_THROW(pool.run([](WorkerModels&) { throw DataError("bad picture"); }), DataError);

  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> started{0};
  const auto slow = [&](WorkerModels&) {
    ++started;
    released.wait();
  };
  auto first = std::async(std::launch::async, [&] { pool.run(slow); });  // on the worker
  while (started == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto second = std::async(std::launch::async, [&] { pool.run(slow); });  // waits in the queue
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_THROW(pool.run(slow), BusyError);  // the queue of one is full
  release.set_value();
  first.get();
  second.get();
  EXPECT_EQ(started, 2);
}

TEST(WorkerPool, DropsAJobThatWaitedPastItsDeadline) {
  WorkerPool pool(nullptr, nullptr, nullptr, 1, 4, std::chrono::milliseconds(20));
  std::promise<void> release;
  std::atomic<bool> running{false};
  auto first = std::async(std::launch::async, [&] {
    pool.run([&](WorkerModels&) {
      running = true;
      release.get_future().wait();
    });
  });
  while (!running) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  bool ran = false;
  auto late = std::async(std::launch::async, [&] { pool.run([&](WorkerModels&) { ran = true; }); });
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  release.set_value();
  first.get();
  EXPECT_THROW(late.get(), BusyError);
  EXPECT_FALSE(ran);
}

// ---- good requests ----------------------------------------------------------------

TEST(ServeApi, HealthzModelsAndThePageFromMemory) {
  RunningServer s;
  auto c = s.client();
  auto r = c.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body), json({{"status", "ok"}}));

  r = c.Get("/api/models");
  ASSERT_TRUE(r);
  const json models = json::parse(r->body);
  EXPECT_EQ(models["denoiser"]["config"]["noise"], "gaussian:0.5");
  EXPECT_EQ(models["classifier"]["config"]["task"], "classify");
  EXPECT_GT(models["denoiser"]["parameters"].get<int>(), 1000);
  EXPECT_TRUE(models["noisy_classifier"].is_null());
  EXPECT_EQ(models["server"]["workers"], 2);

  for (const char* path : {"/", "/index.html", "/app.js", "/style.css"}) {
    r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
  }
  EXPECT_NE(c.Get("/")->body.find("<canvas id=\"pad\""), std::string::npos);
  EXPECT_EQ(c.Get("/app.js")->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  // Nothing of a URL reaches the file system.
  for (const char* path : {"/../CMakeLists.txt", "/%2e%2e/%2e%2e/etc/passwd", "/web/index.html", "/models/",
                           "/README.md", "//etc/passwd"})
    EXPECT_JSON_ERROR(c.Get(path), 404, "no such path");
  EXPECT_EQ(raw_status(raw_request(s.port, "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 404);
}

// The answers of /api/predict are those of `denoise predict` for the same files: with no
// noise, "input" is the classifier's reading and "denoised" the reading after the denoiser.
TEST(ServeApi, PredictEqualsTheCliUnderConcurrentClients) {
  TempDir dir;
  constexpr int kPictures = 4;
  std::vector<std::string> pngs;
  std::vector<std::string> files;
  for (int k = 0; k < kPictures; ++k) {
    pngs.push_back(png_of(stroke_picture(k)));
    files.push_back((dir / fmt::format("p{}.png", k)).string());
    write_file_atomic(files.back(), pngs.back());
  }
  std::vector<std::string> plain = {"predict", "--json", "--classifier", kClassifier.string()};
  plain.insert(plain.end(), files.begin(), files.end());
  std::vector<std::string> denoised = {"predict", "--json", "--classifier", kClassifier.string(),
                                       "--denoiser", kDenoiser.string()};
  denoised.insert(denoised.end(), files.begin(), files.end());
  const test::CliResult a = run_denoise(plain), b = run_denoise(denoised);
  ASSERT_EQ(a.status, 0) << a.output;
  ASSERT_EQ(b.status, 0) << b.output;
  const json cli_plain = json::parse(a.output), cli_denoised = json::parse(b.output);

  RunningServer s;
  constexpr int kClients = 16, kEach = 4;
  std::vector<std::future<int>> clients;
  for (int t = 0; t < kClients; ++t)
    clients.push_back(std::async(std::launch::async, [&, t] {
      auto c = s.client();
      int same = 0;
      for (int i = 0; i < kEach; ++i) {
        const int k = (t + i) % kPictures;
        auto r = c.Post("/api/predict?denoise=1", pngs[std::size_t(k)], "image/png");
        if (!r || r->status != 200) continue;
        const json j = json::parse(r->body);
        const json& p = cli_plain[std::size_t(k)];
        const json& d = cli_denoised[std::size_t(k)];
        same += j["input"]["digit"] == p["digit"] && j["input"]["probabilities"] == p["probabilities"] &&
                j["denoised"]["digit"] == d["digit"] && j["denoised"]["probabilities"] == d["probabilities"] &&
                j["noise"] == "none";
      }
      return same;
    }));
  int same = 0;
  for (auto& f : clients) same += f.get();
  EXPECT_EQ(same, kClients * kEach);
}

TEST(ServeApi, PredictWithNoiseIsSeededAndReturnsThePictures) {
  RunningServer s;
  auto c = s.client();
  const std::string png = png_of(stroke_picture(7));
  const auto ask = [&](const std::string& query) {
    auto r = c.Post("/api/predict?denoise=1&images=1&" + query, png, "image/png");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return json::parse(r->body);
  };
  const json a = ask("noise=gaussian:0.5&seed=3"), b = ask("noise=gaussian:0.5&seed=3"), other = ask("noise=gaussian:0.5&seed=4");
  EXPECT_EQ(a, b);
  EXPECT_NE(a["images"]["input"], other["images"]["input"]);
  EXPECT_EQ(a["images"]["framed"], other["images"]["framed"]);
  EXPECT_NE(a["images"]["input"], a["images"]["framed"]);
  for (const char* which : {"framed", "input", "denoised"})
    EXPECT_TRUE(a["images"][which].get<std::string>().starts_with("data:image/png;base64,iVBORw0KGgo")) << which;
  float sum = 0;
  for (float p : a["denoised"]["probabilities"]) sum += p;
  EXPECT_NEAR(sum, 1.0f, 1e-4f);
  EXPECT_EQ(a["noise"], "gaussian:0.5");
}

// With --noisy-classifier, noisy input is read by that classifier and everything else
// by the clean one. Here the "noisy" classifier is the clean one whose last bias
// favours 3 by far, so that which one read a picture shows in the digit.
TEST(ServeApi, TheNoisyClassifierReadsNoisyInputOnly) {
  TempDir tmp;
  const fs::path noisy = tmp / "reads-three";
  fs::copy(kClassifier, noisy);
  auto tensors = load_safetensors(noisy / "model.safetensors");
  ASSERT_TRUE(tensors.contains("dense/bias"));  // the last layer of the small classifier
  tensors["dense/bias"][3] += 1000.0f;
  std::vector<std::pair<std::string, const Tensor*>> named;
  for (const auto& [name, t] : tensors) named.emplace_back(name, &t);
  save_safetensors(noisy / "model.safetensors", named, read_safetensors_metadata(kClassifier / "model.safetensors"));

  RunningServer s(RunningServer::quiet_options(), noisy);
  auto c = s.client();
  auto r = c.Get("/api/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["noisy_classifier"]["config"]["task"], "classify");

  const std::string png = png_of(stroke_picture(7));
  const auto ask = [&](const std::string& query) {
    auto answer = c.Post("/api/predict?denoise=1&" + query, png, "image/png");
    EXPECT_TRUE(answer && answer->status == 200) << (answer ? answer->body : "no answer");
    return json::parse(answer->body);
  };
  const json with_noise = ask("noise=gaussian:0.5&seed=3"), clean = ask("noise=none");
  EXPECT_EQ(with_noise["input"]["classifier"], "noisy_classifier");
  EXPECT_EQ(with_noise["input"]["digit"], 3);
  EXPECT_NEAR(with_noise["input"]["probabilities"][3].get<float>(), 1.0f, 1e-6f);
  EXPECT_EQ(with_noise["denoised"]["classifier"], "classifier");  // denoised digits look clean
  EXPECT_EQ(clean["input"]["classifier"], "classifier");
  // The clean reading is the plain server's, to the bit.
  RunningServer plain;
  auto pc = plain.client();
  auto p = pc.Post("/api/predict?denoise=1&noise=none", png, "image/png");
  ASSERT_TRUE(p && p->status == 200);
  EXPECT_EQ(clean, json::parse(p->body));
  EXPECT_THROW(load_served_models(kDenoiser, kClassifier, kDenoiser), DataError);  // a denoiser cannot read digits
}

// /api/denoise gives the bytes `denoise apply` writes for the same picture and noise, and
// PSNR/SSIM against a reference part.
TEST(ServeApi, DenoiseEqualsTheCliAndMeasuresAgainstAReference) {
  TempDir dir;
  const Picture clean = stroke_picture(3, 90, 70);
  write_file_atomic(dir / "in" / "pic.png", png_of(clean));
  write_file_atomic(dir / "ref" / "pic.png", png_of(clean));
  const test::CliResult cli =
      run_denoise({"apply", kDenoiser.string(), (dir / "in" / "pic.png").string(), "--out", (dir / "out").string(),
                   "--noise", "gaussian:0.3", "--seed", "5", "--reference", (dir / "ref").string()});
  ASSERT_EQ(cli.status, 0) << cli.output;
  const std::string cli_png = read_file_text(dir / "out" / "pic.png");
  const json summary = read_json(dir / "out" / "apply.json");

  RunningServer s;
  auto c = s.client();
  auto r = c.Post("/api/denoise?noise=gaussian:0.3&seed=5", png_of(clean), "image/png");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(r->body, cli_png);

  httplib::MultipartFormDataItems parts = {{"image", png_of(clean), "pic.png", "image/png"},
                                           {"reference", png_of(clean), "ref.png", "image/png"}};
  r = c.Post("/api/denoise?noise=gaussian:0.3&seed=5&format=json", parts);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  const json& file = summary["files"][0];
  EXPECT_NEAR(j["metrics"]["psnr"].get<double>(), file["psnr"].get<double>(), 1e-9);
  EXPECT_NEAR(j["metrics"]["ssim"].get<double>(), file["ssim"].get<double>(), 1e-9);
  EXPECT_NEAR(j["metrics"]["input_psnr"].get<double>(), file["input_psnr"].get<double>(), 1e-9);
  EXPECT_GT(j["metrics"]["psnr"].get<double>(), j["metrics"]["input_psnr"].get<double>());
  EXPECT_EQ(j["width"], 90);
  EXPECT_EQ(j["height"], 70);

  r = c.Post("/api/denoise?noise=gaussian:0.3&seed=5", parts);  // PNG answer, metrics in headers
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, cli_png);
  EXPECT_NEAR(std::stod(r->get_header_value("X-PSNR")), file["psnr"].get<double>(), 1e-5);
}

TEST(ServeApi, NoiseIsSeededAndKeepsThePictureShape) {
  RunningServer s;
  auto c = s.client();
  Picture rgba(33, 21, 4, 8);
  for (std::size_t i = 0; i < rgba.samples(); ++i) rgba.set_level(i, std::uint16_t(i % 256));
  const auto noisy = [&](const std::string& query) {
    auto r = c.Post("/api/noise" + query, png_of(rgba), "image/png");
    EXPECT_TRUE(r && r->status == 200);
    return r->body;
  };
  const std::string a = noisy(""), b = noisy("?seed=0&noise=gaussian:0.5"), other = noisy("?seed=1");
  EXPECT_EQ(a, b);  // gaussian:0.5 and seed 0 are the defaults
  EXPECT_NE(a, other);
  const Picture p = decode_picture(std::span(reinterpret_cast<const std::uint8_t*>(a.data()), a.size()), "answer");
  EXPECT_EQ(p.width, 33);
  EXPECT_EQ(p.height, 21);
  EXPECT_EQ(p.channels, 4);
  for (std::size_t i = 3; i < p.samples(); i += 4) ASSERT_EQ(p.level(i), rgba.level(i));  // alpha kept
}

// ---- bad and hostile requests ----------------------------------------------------

TEST(ServeApi, HostileAndMalformedRequestsGetJsonErrorsAndTheServerLives) {
  RunningServer s;
  auto c = s.client();
  const std::string png = png_of(stroke_picture(1));

  EXPECT_JSON_ERROR(c.Post("/api/predict", png, "text/plain"), 415, "Content-Type");
  EXPECT_JSON_ERROR(c.Post("/api/predict", png, "application/json"), 415, "Content-Type");
  EXPECT_JSON_ERROR(c.Post("/api/denoise", png, "application/octet-stream"), 415, "Content-Type");
  httplib::Headers gzip = {{"Content-Encoding", "gzip"}};
  EXPECT_JSON_ERROR(c.Post("/api/predict", gzip, png, "image/png"), 415, "Content-Encoding");
  EXPECT_JSON_ERROR(c.Post("/api/predict", "hello, this is not a picture", "image/png"), 400, "not a PNG or JPEG");
  EXPECT_JSON_ERROR(c.Post("/api/predict", png.substr(0, png.size() / 2), "image/png"), 400, "truncated");
  EXPECT_JSON_ERROR(c.Post("/api/predict", "", "image/png"), 400, "empty");
  const std::string jpeg = encode_jpeg(stroke_picture(2));
  EXPECT_JSON_ERROR(c.Post("/api/predict", jpeg.substr(0, jpeg.size() / 2), "image/jpeg"), 400, "image");
  // A decompression bomb: a few hundred bytes declaring 30000 x 30000 pixels.
  const std::string bomb = bomb_png(30000, 30000);
  EXPECT_LT(bomb.size(), 2000u);
  EXPECT_JSON_ERROR(c.Post("/api/denoise", bomb, "image/png"), 413, "30000x30000");
  EXPECT_JSON_ERROR(c.Post("/api/predict", bomb, "image/png"), 413, "over the limit");
  EXPECT_JSON_ERROR(c.Post("/api/noise", bomb, "image/png"), 413, "over the limit");
  // The same as a JPEG: a real one whose frame header is made to declare 60000 x 60000.
  std::string jpeg_bomb = encode_jpeg(stroke_picture(2));
  const std::size_t sof = jpeg_bomb.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg_bomb.replace(sof + 5, 4, "\xEA\x60\xEA\x60");
  EXPECT_JSON_ERROR(c.Post("/api/denoise", jpeg_bomb, "image/jpeg"), 413, "60000x60000");
  EXPECT_JSON_ERROR(c.Post("/api/predict", png_of(Picture(40, 40, 1, 8)), "image/png"), 400, "blank");
  EXPECT_JSON_ERROR(c.Post("/api/predict?noise=laser:3", png, "image/png"), 400, "laser");
  EXPECT_JSON_ERROR(c.Post("/api/predict?noise=gaussian:-1", png, "image/png"), 400, "gaussian");
  EXPECT_JSON_ERROR(c.Post("/api/predict?seed=-3", png, "image/png"), 400, "seed");
  EXPECT_JSON_ERROR(c.Post("/api/predict?denoise=maybe", png, "image/png"), 400, "denoise");
  EXPECT_JSON_ERROR(c.Post("/api/predict?min_confidence=2", png, "image/png"), 400, "min_confidence");
  EXPECT_JSON_ERROR(c.Post("/api/predict?as_is=1", png, "image/png"), 400, "28x28");
  EXPECT_JSON_ERROR(c.Post("/api/denoise?colour=sepia", png, "image/png"), 400, "colour");
  EXPECT_JSON_ERROR(c.Post("/api/denoise?format=gif", png, "image/png"), 400, "format");
  httplib::MultipartFormDataItems no_image = {{"picture", png, "p.png", "image/png"}};
  EXPECT_JSON_ERROR(c.Post("/api/predict", no_image), 400, "'image'");
  httplib::MultipartFormDataItems bad_reference = {{"image", png, "p.png", "image/png"},
                                                   {"reference", png_of(Picture(10, 10, 1, 8)), "r.png", "image/png"}};
  EXPECT_JSON_ERROR(c.Post("/api/denoise", bad_reference), 400, "");
  EXPECT_JSON_ERROR(c.Get("/api/predict"), 405, "POST");
  EXPECT_JSON_ERROR(c.Delete("/healthz"), 405, "GET");
  EXPECT_JSON_ERROR(c.Post("/healthz", png, "image/png"), 405, "GET");
  EXPECT_JSON_ERROR(c.Post("/api/nothing", png, "image/png"), 404, "no such path");
  // Raw bytes: a chunked body and one of no length (both unbounded as they come), a
  // huge or malformed declared length, a malformed request line.
  std::string answer = raw_request(s.port, "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n10\r\n0123456789abcdef\r\n");
  EXPECT_EQ(raw_status(answer), 411) << answer;
  EXPECT_NE(answer.find("chunked transfer is not taken"), std::string::npos) << answer;
  answer = raw_request(s.port, "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                                           "Connection: close\r\n\r\n");
  EXPECT_EQ(raw_status(answer), 411) << answer;
  answer = raw_request(s.port, "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: "
                               "99999999999999999999999\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw_status(answer), 413) << answer;
  answer = raw_request(s.port, "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw_status(answer), 400) << answer;
  answer = raw_request(s.port, "BREW /coffee HTCPCP/1.0\r\n\r\n");
  EXPECT_EQ(raw_status(answer), 400) << answer;
  EXPECT_NE(answer.find("\"error\""), std::string::npos) << answer;

  auto r = c.Get("/healthz");  // still serving
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ServeApi, BodiesAndPicturesOverTheLimitsAre413) {
  ServeOptions o = RunningServer::quiet_options();
  o.max_body_bytes = 4000;
  o.max_pixels = 100 * 100;
  RunningServer s(o);
  auto c = s.client();
  EXPECT_JSON_ERROR(c.Post("/api/predict", std::string(4001, 'x'), "image/png"), 413, "4000 bytes");
  EXPECT_JSON_ERROR(c.Post("/api/predict", png_of(stroke_picture(1, 101, 100)), "image/png"), 413, "over the limit");
  auto r = c.Post("/api/predict", png_of(stroke_picture(1, 100, 100)), "image/png");  // at the limit
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // The connection after a refused body still serves the next request.
  r = c.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ServeApi, AFullQueueAnswers503) {
  ServeOptions o = RunningServer::quiet_options();
  o.workers = 1;
  o.queue = 0;
  RunningServer s(o);
  Picture big(1000, 1000, 1, 8);  // about 0.3 s of denoising on one core
  for (std::size_t i = 0; i < big.samples(); ++i) big.set_level(i, std::uint16_t((i * 7919) % 256));
  const std::string big_png = png_of(big), small_png = png_of(stroke_picture(1));
  // A client that keeps asking for the long job until it is taken, while another asks
  // for short ones: whichever finds the one worker busy is answered 503 at once.
  std::atomic<bool> done{false};
  auto slow = std::async(std::launch::async, [&] {
    auto c = s.client();
    int status = -1;
    do {
      auto r = c.Post("/api/denoise", big_png, "image/png");
      status = r ? r->status : -1;
    } while (status == 503);
    done = true;
    return status;
  });
  int busy = 0, ok = 0;
  auto c = s.client();
  while (!done) {
    auto r = c.Post("/api/predict", small_png, "image/png");
    ASSERT_TRUE(r);
    if (r->status == 503) {
      if (busy++ == 0) {
        EXPECT_JSON_ERROR(r, 503, "busy");
        EXPECT_EQ(r->get_header_value("Retry-After"), "1");
      }
    } else {
      EXPECT_EQ(r->status, 200) << r->body;
      ++ok;
    }
  }
  EXPECT_EQ(slow.get(), 200);
  EXPECT_GT(busy, 0);
}

// ---- logs and shutdown ------------------------------------------------------------

TEST(ServeApi, LogsOneLinePerRequestAndFinishesRequestsInFlightOnStop) {
  std::mutex m;
  std::vector<std::string> lines;
  ServeOptions o = RunningServer::quiet_options();
  o.log = [&](const std::string& line) {
    std::lock_guard lock(m);
    lines.push_back(line);
  };
  auto s = std::make_unique<RunningServer>(o);
  auto c = s->client();
  c.Get("/healthz");
  c.Post("/api/predict", "x", "text/plain");
  Picture big(2000, 1000, 1, 8);  // about 0.6 s of denoising on one core
  const std::string big_png = png_of(big);
  auto slow = std::async(std::launch::async, [&] {
    auto r = s->client().Post("/api/denoise", big_png, "image/png");
    return r ? r->status : -1;
  });
  // Stop while the denoising is in flight: it is still answered.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  s.reset();
  EXPECT_EQ(slow.get(), 200);
  // A line is written once its answer has gone out, so a quick request's line may come
  // after the next request's: compared in sorted order.
  ASSERT_EQ(lines.size(), 3u);
  std::sort(lines.begin(), lines.end());
  EXPECT_TRUE(lines[0].starts_with("GET /healthz 200 ")) << lines[0];
  EXPECT_TRUE(lines[0].ends_with(" ms")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("POST /api/denoise 200 ")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with("POST /api/predict 415 ")) << lines[2];
}

TEST(ServeApi, RefusesRunsOfTheWrongTask) {
  EXPECT_THROW(load_served_models(kClassifier, kClassifier, std::nullopt), DataError);
  EXPECT_THROW(load_served_models(kDenoiser, kDenoiser, std::nullopt), DataError);
  EXPECT_THROW(load_served_models(kDenoiser, "/no/such/run", std::nullopt), DataError);
}

// A free port: bound, read and released (the server binds it again at once).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t size = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(ServeCli, ServesUntilSigtermThenStopsCleanly) {
  const int port = free_port();
  std::atomic<bool> answered{false};
  const test::CliResult r = test::run_denoise_until(
      {"serve", "--denoiser", kDenoiser.string(), "--classifier", kClassifier.string(), "--port", std::to_string(port)},
      [&] {
        httplib::Client c("127.0.0.1", port);
        c.set_connection_timeout(0, 100'000);
        auto h = c.Get("/healthz");
        answered = h && h->status == 200;
        return answered.load();
      },
      SIGTERM);
  EXPECT_TRUE(answered);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(fmt::format("http://127.0.0.1:{}/", port)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("GET /healthz 200"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stopped (SIGTERM)"), std::string::npos) << r.output;
}

TEST(ServeCli, RefusesAPortInUseAndBadFlags) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t size = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  test::CliResult r = run_denoise({"serve", "--denoiser", kDenoiser.string(), "--classifier", kClassifier.string(), "--port", port});
  close(fd);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--port"), std::string::npos) << r.output;
  r = run_denoise({"serve", "--denoiser", kDenoiser.string(), "--classifier", kClassifier.string(), "--workers", "0"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--workers"), std::string::npos) << r.output;
  r = run_denoise({"serve", "--denoiser", kClassifier.string(), "--classifier", kClassifier.string()});
  EXPECT_EQ(r.status, 1) << r.output;
}

}  // namespace
}  // namespace dn
