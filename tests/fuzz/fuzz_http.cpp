// `denoise serve` fed raw bytes over loopback, one connection per input: httplib's request
// parsing, the routes, query options, multipart bodies and the picture decoding behind
// them. The server runs in this process, so its threads are under the sanitizers too; the
// limits are set small so that each input costs milliseconds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include "serve/server.hpp"

namespace {

int port = 0;

// A connection to the server; -1 when it could not be made.
int connect_to_server() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval timeout{5, 0};  // a server that stops answering shows up as a slow input, not a hang here
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  // Closed with a reset: thousands of connections a second would otherwise use up the
  // ephemeral ports in TIME_WAIT, and connect would fail for the harness's sake.
  const linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::filesystem::path models = std::filesystem::path(DN_ROOT) / "models";
  dn::ServeOptions options;
  options.port = 0;
  options.workers = 1;
  options.queue = 4;
  options.connection_threads = 4;
  options.max_body_bytes = 1 << 16;
  options.max_pixels = 1 << 16;
  options.io_timeout = std::chrono::seconds(2);
  // The server lives as long as the process: libFuzzer ends it with exit().
  auto* server = new dn::Server(
      dn::load_served_models(models / "seed-mnist-gaussian0.5", models / "classifier-mnist-clean", std::nullopt),
      options);
  port = server->bind();
  std::thread([server] { server->run(); }).detach();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  int fd = connect_to_server();
  for (int retry = 0; fd < 0 && retry < 100; ++retry) {  // a full accept queue clears in milliseconds
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    fd = connect_to_server();
  }
  if (fd < 0) {  // the server stopped accepting for a second: a bug
    std::perror("fuzz_http: connect");
    std::abort();
  }
  std::size_t sent = 0;
  while (sent < size) {
    const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early on a bad request
    sent += std::size_t(n);
  }
  shutdown(fd, SHUT_WR);
  char answer[4096];
  while (recv(fd, answer, sizeof answer, 0) > 0) {
  }
  close(fd);
  return 0;
}
