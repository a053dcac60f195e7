// A minimal blocking HTTP/1.1 client over POSIX sockets for tests: an
// independent peer for the Beast server (and quick to compile).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace bot::test {

struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Sends `raw` (a complete request) to 127.0.0.1:port and reads the reply
// until the server closes or Content-Length is satisfied. status 0 = no reply.
http_response http_raw(std::uint16_t port, const std::string& raw, int timeout_ms = 5000);

// GET (or another method) with Connection: close.
http_response http_get(std::uint16_t port, const std::string& target,
                       const std::string& method = "GET");

// A connected socket to 127.0.0.1:port, or -1.
int connect_local(std::uint16_t port);

}  // namespace bot::test
