#include "serve/server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <csignal>
#include <optional>
#include <span>
#include <string_view>

#include <fmt/core.h>
#include <httplib.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/image_codec.hpp"
#include "data/noise.hpp"
#include "eval/apply_images.hpp"
#include "eval/predict_images.hpp"
#include "io/png.hpp"
#include "nn/inference.hpp"
#include "run/run_folder.hpp"
#include "serve/worker_pool.hpp"
#include "web_assets.hpp"

namespace dn {

namespace fs = std::filesystem;

namespace {

// An answer other than 200, with the status that fits; the message is the JSON error.
struct HttpError : std::runtime_error {
  HttpError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

void json_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", message}, {"status", status}}.dump(), "application/json");
}

std::string base64(std::string_view bytes) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 3; ++k) v = v << 8 | (k < n ? std::uint8_t(bytes[i + k]) : 0u);
    for (std::size_t k = 0; k < 4; ++k) out += k <= n ? kDigits[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

std::string png_data_url(const Picture& picture) { return "data:image/png;base64," + base64(encode_png(picture)); }

// An 8-bit gray picture of a [28, 28] digit in [0, 1].
Picture digit_picture(const Tensor& digit) {
  const int side = int(digit.shape()[0]);
  Picture p(side, side, 1, 8);
  for (std::size_t i = 0; i < p.samples(); ++i) p.set(i, digit[i]);
  return p;
}

// ---- the query string -----------------------------------------------------------

std::string param(const httplib::Request& req, const char* name, const std::string& fallback) {
  return req.has_param(name) ? req.get_param_value(name) : fallback;
}

bool flag_param(const httplib::Request& req, const char* name, bool fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  if (v == "1" || v == "true" || v == "yes" || v.empty()) return true;
  if (v == "0" || v == "false" || v == "no") return false;
  throw HttpError(400, fmt::format("{} must be true or false (got '{}')", name, v));
}

std::uint64_t seed_param(const httplib::Request& req) {
  const std::string v = param(req, "seed", "0");
  std::uint64_t seed = 0;
  const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), seed);
  if (err != std::errc() || end != v.data() + v.size())
    throw HttpError(400, fmt::format("seed must be a whole number in [0, 2^64) (got '{}')", v));
  return seed;
}

float confidence_param(const httplib::Request& req) {
  const std::string v = param(req, "min_confidence", "");
  if (v.empty()) return kDefaultMinConfidence;
  float c = 0;
  const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), c);
  if (err != std::errc() || end != v.data() + v.size() || !(c >= 0.0f && c <= 1.0f))
    throw HttpError(400, fmt::format("min_confidence must be a number in [0, 1] (got '{}')", v));
  return c;
}

// ---- the body -------------------------------------------------------------------

// The media type without parameters, lower case: "multipart/form-data; boundary=x" -> "multipart/form-data".
std::string media_type(const httplib::Request& req) {
  std::string t = req.get_header_value("Content-Type");
  t = t.substr(0, t.find(';'));
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return t;
}

bool is_picture_type(const std::string& type) { return type == "image/png" || type == "image/jpeg"; }

// The picture bytes of part `name`: the whole body for image/png and image/jpeg, a part of
// multipart form data; nullopt when a multipart body has no such part.
std::optional<std::string_view> body_part(const httplib::Request& req, const std::string& name) {
  const std::string type = media_type(req);
  if (is_picture_type(type)) {
    if (name != "image") return std::nullopt;
    return std::string_view(req.body);
  }
  if (type == "multipart/form-data") {
    const auto it = req.files.find(name);
    if (it == req.files.end()) return std::nullopt;
    return std::string_view(it->second.content);
  }
  throw HttpError(415, fmt::format("Content-Type must be image/png, image/jpeg or multipart/form-data (got '{}')",
                                   req.get_header_value("Content-Type")));
}

Picture decode_part(std::string_view bytes, const std::string& name, std::uint64_t max_pixels) {
  if (bytes.empty()) throw HttpError(400, name + ": the body is empty (send a PNG or JPEG picture)");
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  try {
    return decode_picture(std::span(data, bytes.size()), name, max_pixels);
  } catch (const PixelLimitError& e) {
    throw HttpError(413, e.what());
  }
}

Picture required_picture(const httplib::Request& req, std::uint64_t max_pixels) {
  const auto bytes = body_part(req, "image");
  if (!bytes) throw HttpError(400, "the multipart form has no part named 'image'");
  return decode_part(*bytes, "image", max_pixels);
}

NoiseSpec noise_param(const httplib::Request& req, const std::string& fallback) {
  return parse_noise(param(req, "noise", fallback));  // UsageError -> 400
}

// ---- the models -----------------------------------------------------------------

ServedModel load_served(const fs::path& run, const std::string& task) {
  LoadedRunFolder folder = load_run_folder(run, task);
  ServedModel m;
  m.run = run;
  m.config = std::move(folder.config);
  m.model = std::move(folder.model);
  const fs::path metrics = run / kRunMetricsFile;
  m.metrics = fs::exists(metrics) ? read_json(metrics) : nlohmann::json();
  return m;
}

// The output of a model for one 28x28 digit, checked at load so that no request meets a misfit.
Tensor run_on_digit(Layer& model, const Tensor& digit) {
  Tensor x = digit;
  x.reshape({1, 28, 28});
  Tensor y;
  predict(model, x, y);
  return y;
}

nlohmann::json model_json(const ServedModel& m) {
  return {{"run", m.run.string()},
          {"parameters", m.model->param_count()},
          {"config", m.config},
          {"metrics", m.metrics}};
}

struct DigitReading {
  int digit = 0;
  std::array<float, 10> probabilities{};
  bool low_confidence = false;
};

DigitReading read_digit(Layer& classifier, const Tensor& digit, float min_confidence) {
  const Tensor probs = run_on_digit(classifier, digit);
  DigitReading r;
  std::copy_n(probs.data(), 10, r.probabilities.begin());
  const auto top = std::max_element(r.probabilities.begin(), r.probabilities.end());
  r.digit = int(top - r.probabilities.begin());
  r.low_confidence = *top < min_confidence;
  return r;
}

nlohmann::json reading_json(const DigitReading& r, const char* classifier) {
  return {{"digit", r.digit},
          {"probabilities", r.probabilities},
          {"low_confidence", r.low_confidence},
          {"classifier", classifier}};
}

// The connection threads. httplib's own pool queues accepted connections without bound;
// this one holds at most `threads` waiting and makes the accepting thread wait beyond
// that, so that a flood of connections waits in the kernel's listen queue (and is refused
// there when it is full) instead of piling up sockets in the server.
class ConnectionPool : public httplib::TaskQueue {
 public:
  explicit ConnectionPool(std::size_t threads) : capacity_(threads) {
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [this] { return jobs_.size() < capacity_; });
    jobs_.push_back(std::move(fn));
    ready_.notify_one();
  }
  // Runs the connections already accepted, then joins the threads.
  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
        room_.notify_one();
      }
      job();
    }
  }

  std::size_t capacity_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable ready_, room_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
};

}  // namespace

ServedModels load_served_models(const fs::path& denoiser, const fs::path& classifier,
                                const std::optional<fs::path>& noisy_classifier) {
  ServedModels m;
  m.denoiser = load_served(denoiser, "denoise");
  m.classifier = load_served(classifier, "classify");
  if (noisy_classifier) m.noisy_classifier = load_served(*noisy_classifier, "classify");
  const Tensor blank({28, 28});
  const Tensor out = run_on_digit(*m.denoiser.model, blank);
  if (out.size() != 28 * 28)
    throw ArgumentError("denoiser", fmt::format("{}: does not map a 28x28 digit to a 28x28 picture", denoiser.string()));
  for (const ServedModel* c : {&m.classifier, m.noisy_classifier ? &*m.noisy_classifier : nullptr})
    if (c && run_on_digit(*c->model, blank).size() != 10)
      throw ArgumentError("classifier", fmt::format("{}: does not give ten digit probabilities", c->run.string()));
  return m;
}

struct Server::Impl {
  ServedModels models;
  ServeOptions options;
  WorkerPool pool;
  httplib::Server http;
  std::atomic<bool> stop_requested{false};
  int listen_socket = -1;

  Impl(ServedModels m, const ServeOptions& o)
      : models(std::move(m)),
        options(o),
        pool(models.denoiser.model.get(), models.classifier.model.get(),
             models.noisy_classifier ? models.noisy_classifier->model.get() : nullptr, o.workers, o.queue,
             o.max_wait) {}

  void routes();
  void predict(const httplib::Request& req, httplib::Response& res);
  void denoise(const httplib::Request& req, httplib::Response& res);
  void noise(const httplib::Request& req, httplib::Response& res);
  nlohmann::json models_json() const;
};

namespace {

// Runs an API handler, mapping every error to its JSON answer: nothing a request sends
// may end the server.
void answer(httplib::Response& res, const std::function<void()>& handle) {
  try {
    handle();
  } catch (const HttpError& e) {
    json_error(res, e.status, e.what());
  } catch (const BusyError& e) {
    res.set_header("Retry-After", "1");
    json_error(res, 503, e.what());
  } catch (const PixelLimitError& e) {
    json_error(res, 413, e.what());
  } catch (const DataError& e) {
    json_error(res, 400, e.what());
  } catch (const UsageError& e) {
    json_error(res, 400, e.what());
  } catch (const std::bad_alloc&) {
    json_error(res, 503, "the server is out of memory for this request");
  } catch (const std::exception& e) {
    json_error(res, 500, std::string("internal error: ") + e.what());
  }
}

// Where the request that this connection thread is handling started, for the log line.
thread_local std::optional<std::chrono::steady_clock::time_point> request_start;
// A request refused before its body was read leaves the body on the connection, which the
// library then reads as a malformed request and closes; that is no request of the client's.
thread_local bool body_left_unread = false;

struct Route {
  std::string_view path, method;
};
constexpr Route kRoutes[] = {{"/healthz", "GET"},        {"/api/models", "GET"},   {"/api/noise", "POST"},
                             {"/api/denoise", "POST"},   {"/api/predict", "POST"}};

bool is_asset(const std::string& path) {
  return path == "/" || std::any_of(std::begin(web::kAssets), std::end(web::kAssets),
                                    [&](const web::Asset& a) { return a.path == path; });
}

// 404 for a path nobody serves, 405 (with Allow) for a known path asked with another method.
void no_route(const httplib::Request& req, httplib::Response& res) {
  for (const Route& r : kRoutes)
    if (r.path == req.path) {
      res.set_header("Allow", std::string(r.method));
      return json_error(res, 405, fmt::format("{} takes {} requests, not {}", r.path, r.method, req.method));
    }
  if (is_asset(req.path)) {
    res.set_header("Allow", "GET");
    return json_error(res, 405, fmt::format("{} takes GET requests, not {}", req.path, req.method));
  }
  json_error(res, 404, fmt::format("no such path: {}", req.path));
}

}  // namespace

nlohmann::json Server::Impl::models_json() const {
  nlohmann::json j = {{"denoiser", model_json(models.denoiser)},
                      {"classifier", model_json(models.classifier)},
                      {"noisy_classifier", nullptr},
                      {"server",
                       {{"workers", pool.workers()},
                        {"queue", pool.queue_capacity()},
                        {"max_body_bytes", options.max_body_bytes},
                        {"max_pixels", options.max_pixels}}}};
  if (models.noisy_classifier) j["noisy_classifier"] = model_json(*models.noisy_classifier);
  return j;
}

// The picture framed as an MNIST digit, noised (seeded), read by a classifier, and
// denoised and read again when asked.
void Server::Impl::predict(const httplib::Request& req, httplib::Response& res) {
  const NoiseSpec spec = noise_param(req, "none");
  const std::uint64_t seed = seed_param(req);
  const bool denoise = flag_param(req, "denoise", false), images = flag_param(req, "images", false);
  const bool as_is = flag_param(req, "as_is", false);
  const float min_confidence = confidence_param(req);
  body_part(req, "image");  // 415 before the request waits for a worker
  nlohmann::json out;
  pool.run([&](WorkerModels& m) {
    const Picture picture = required_picture(req, options.max_pixels);
    const Image image = image_from_picture(picture);
    Tensor framed;
    try {
      framed = as_is ? mnist_as_is(image) : mnist_frame(image);
    } catch (const ArgumentError& e) {
      throw HttpError(400, std::string("as_is ") + e.complaint());
    }
    Tensor input = framed;
    if (spec.kind != NoiseSpec::Kind::none) {
      input.reshape({1, 28, 28});
      add_noise(spec, input, input, seed);
      input.reshape({28, 28});
    }
    // A classifier trained on noisy digits reads noisy input, where the server has one.
    const bool noisy_reader = spec.kind != NoiseSpec::Kind::none && m.noisy_classifier;
    Layer& reader = noisy_reader ? *m.noisy_classifier : *m.classifier;
    out = {{"noise", spec.str()}, {"seed", seed}};
    out["input"] = reading_json(read_digit(reader, input, min_confidence), noisy_reader ? "noisy_classifier" : "classifier");
    Tensor denoised;
    if (denoise) {
      denoised = run_on_digit(*m.denoiser, input);
      denoised.reshape({28, 28});
      out["denoised"] = reading_json(read_digit(*m.classifier, denoised, min_confidence), "classifier");
    }
    if (images) {
      out["images"] = {{"framed", png_data_url(digit_picture(framed))}, {"input", png_data_url(digit_picture(input))}};
      if (denoise) out["images"]["denoised"] = png_data_url(digit_picture(denoised));
    }
  });
  res.set_content(out.dump(), "application/json");
}

// The picture at its own size, channels and bit depth, noised if asked, then denoised;
// PSNR and SSIM against a reference part when one is sent.
void Server::Impl::denoise(const httplib::Request& req, httplib::Response& res) {
  const NoiseSpec spec = noise_param(req, "none");
  const std::uint64_t seed = seed_param(req);
  const ColourMode colour = parse_colour_mode(param(req, "colour", "per-channel"));
  const std::string format = param(req, "format", "png");
  if (format != "png" && format != "json") throw HttpError(400, fmt::format("format must be png or json (got '{}')", format));
  const auto reference_bytes = body_part(req, "reference");
  std::string png;
  nlohmann::json metrics;
  Picture picture;
  pool.run([&](WorkerModels& m) {
    picture = required_picture(req, options.max_pixels);
    if (spec.kind != NoiseSpec::Kind::none) picture = add_picture_noise(picture, spec, seed, 0);
    std::optional<Picture> reference;
    if (reference_bytes) reference = decode_part(*reference_bytes, "reference", options.max_pixels);
    const Picture denoised = denoise_picture(*m.denoiser, picture, colour, TileOptions{});
    if (reference) {
      const PictureQuality before = picture_quality(picture, *reference), after = picture_quality(denoised, *reference);
      metrics = {{"input_psnr", before.psnr}, {"input_ssim", before.ssim}, {"psnr", after.psnr}, {"ssim", after.ssim}};
    }
    png = encode_png(denoised);
  });
  if (format == "json") {
    nlohmann::json out = {{"width", picture.width},
                          {"height", picture.height},
                          {"channels", picture.channels},
                          {"bit_depth", picture.bit_depth},
                          {"noise", spec.str()},
                          {"seed", seed},
                          {"image", "data:image/png;base64," + base64(png)}};
    if (!metrics.is_null()) out["metrics"] = metrics;
    res.set_content(out.dump(), "application/json");
    return;
  }
  if (!metrics.is_null())
    for (const auto& [name, header] : {std::pair{"input_psnr", "X-Input-PSNR"}, std::pair{"input_ssim", "X-Input-SSIM"},
                                       std::pair{"psnr", "X-PSNR"}, std::pair{"ssim", "X-SSIM"}})
      res.set_header(header, fmt::format("{:.6f}", metrics[name].get<double>()));
  res.set_content(png, "image/png");
}

// The picture with seeded noise in every colour channel (alpha kept), as a PNG.
void Server::Impl::noise(const httplib::Request& req, httplib::Response& res) {
  const NoiseSpec spec = noise_param(req, "gaussian:0.5");
  const std::uint64_t seed = seed_param(req);
  body_part(req, "image");
  std::string png;
  pool.run([&](WorkerModels&) { png = encode_png(add_picture_noise(required_picture(req, options.max_pixels), spec, seed, 0)); });
  res.set_content(png, "image/png");
}

void Server::Impl::routes() {
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  http.Get("/api/models", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(models_json().dump(), "application/json");
  });
  http.Post("/api/predict", [this](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] { predict(req, res); });
  });
  http.Post("/api/denoise", [this](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] { denoise(req, res); });
  });
  http.Post("/api/noise", [this](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] { noise(req, res); });
  });
  // The page, from memory by exact name: no URL reaches the file system.
  http.Get(".*", [](const httplib::Request& req, httplib::Response& res) {
    const std::string path = req.path == "/" ? "/index.html" : req.path;
    for (const web::Asset& a : web::kAssets)
      if (a.path == path) {
        res.set_header("Cache-Control", "no-cache");
        res.set_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:");
        return res.set_content(std::string(a.body), std::string(a.content_type).c_str());
      }
    no_route(req, res);
  });
  http.Post(".*", no_route);
  http.Put(".*", no_route);
  http.Patch(".*", no_route);
  http.Delete(".*", no_route);
  http.Options(".*", no_route);

  // Before any body is read: only bodies of a declared, bounded length, not encoded.
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    request_start = std::chrono::steady_clock::now();
    body_left_unread = false;
    const auto refuse = [&](int status, const std::string& message) {
      json_error(res, status, message);
      body_left_unread = true;
      return httplib::Server::HandlerResponse::Handled;
    };
    if (req.has_header("Transfer-Encoding"))
      return refuse(411, "send the body with a Content-Length (chunked transfer is not taken)");
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (!encoding.empty() && encoding != "identity")
      return refuse(415, fmt::format("Content-Encoding '{}' is not taken: send the picture as it is", encoding));
    if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
      if (!req.has_header("Content-Length")) return refuse(411, "send the body with a Content-Length");
      const std::string length = req.get_header_value("Content-Length");
      std::uint64_t n = 0;
      const auto [end, err] = std::from_chars(length.data(), length.data() + length.size(), n);
      if (err == std::errc::result_out_of_range || (err == std::errc() && n > options.max_body_bytes))
        return refuse(413, fmt::format("the body is larger than the limit of {} bytes", options.max_body_bytes));
      if (err != std::errc() || end != length.data() + length.size())
        return refuse(400, fmt::format("Content-Length is not a number ('{}')", length));
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors the library answers itself (a malformed request, a body over the limit): JSON too.
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) json_error(res, res.status, res.status == 413 ? "the body is too large" : "bad request");
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (req.method.empty() && body_left_unread) {
      body_left_unread = false;
      return;
    }
    if (!options.log) return;
    std::string ms = "-";
    if (request_start) {
      ms = fmt::format("{:.1f}", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - *request_start).count());
      request_start.reset();
    }
    options.log(fmt::format("{} {} {} {} ms", req.method, req.path, res.status, ms));
  });
}

Server::Server(ServedModels models, const ServeOptions& options) {
  if (options.port < 0 || options.port > 65535)
    throw ArgumentError("port", fmt::format("must be in [0, 65535] (got {})", options.port));
  if (options.connection_threads < 1)
    throw ArgumentError("connection_threads", fmt::format("must be >= 1 (got {})", options.connection_threads));
  if (options.max_body_bytes < 1) throw ArgumentError("max_body_bytes", "must be >= 1 (got 0)");
  if (options.max_pixels < 1) throw ArgumentError("max_pixels", "must be >= 1 (got 0)");
  // A client that goes away mid-answer must not end the server (SIGPIPE's default).
  std::signal(SIGPIPE, SIG_IGN);
  impl_ = std::make_unique<Impl>(std::move(models), options);
  Impl& impl = *impl_;
  impl.http.set_payload_max_length(options.max_body_bytes);
  impl.http.set_read_timeout(options.io_timeout);
  impl.http.set_write_timeout(options.io_timeout);
  impl.http.set_keep_alive_timeout(5);
  impl.http.set_tcp_nodelay(true);
  // SO_REUSEADDR only: a restarted server takes its port back from TIME_WAIT, but two
  // live servers cannot share it (the library's default adds SO_REUSEPORT).
  impl.http.set_socket_options([&impl](int sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl.listen_socket = sock;
  });
  const int threads = options.connection_threads;
  impl.http.new_task_queue = [&impl, threads] {
    // Called as listening starts: a stop asked for before then takes effect now.
    if (impl.stop_requested) impl.http.stop();
    return new ConnectionPool(std::size_t(threads));
  };
  impl.routes();
}

Server::~Server() = default;

int Server::bind() {
  Impl& impl = *impl_;
  if (impl.options.port == 0) {
    port_ = impl.http.bind_to_any_port(impl.options.host);
    if (port_ < 0) throw ArgumentError("host", fmt::format("cannot listen on {} (any port)", impl.options.host));
  } else {
    if (!impl.http.bind_to_port(impl.options.host, impl.options.port))
      throw ArgumentError("port", fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                                              impl.options.host, impl.options.port));
    port_ = impl.options.port;
  }
  // The library listens with a backlog of 5: clients that connect together beyond that
  // would wait a second for their SYN to be sent again. Linux takes a second listen()
  // on a listening socket as a new backlog.
  ::listen(impl.listen_socket, SOMAXCONN);
  return port_;
}

void Server::run() {
  if (impl_->stop_requested) return;
  impl_->http.listen_after_bind();
}

void Server::stop() {
  impl_->stop_requested = true;
  impl_->http.stop();
}

}  // namespace dn
