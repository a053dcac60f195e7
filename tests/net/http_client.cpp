#include "http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

namespace bot::test {

int connect_local(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

namespace {

bool parse(const std::string& data, http_response& r) {
  const auto end = data.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  if (data.size() < 12 || data.compare(0, 5, "HTTP/") != 0) return false;
  r.status = std::stoi(data.substr(9, 3));
  r.headers.clear();
  std::size_t pos = data.find("\r\n") + 2;
  while (pos < end) {
    const auto eol = data.find("\r\n", pos);
    const std::string line = data.substr(pos, eol - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
    }
    pos = eol + 2;
  }
  r.body = data.substr(end + 4);
  const auto cl = r.headers.find("content-length");
  return cl != r.headers.end() && r.body.size() >= std::stoul(cl->second);
}

}  // namespace

http_response http_raw(std::uint16_t port, const std::string& raw, int timeout_ms) {
  http_response r;
  const int fd = connect_local(port);
  if (fd < 0) return r;
  ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  std::string data;
  char buf[8192];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (parse(data, r)) break;
  }
  ::close(fd);
  if (r.status == 0) parse(data, r);
  return r;
}

http_response http_get(std::uint16_t port, const std::string& target, const std::string& method) {
  return http_raw(
      port, method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

}  // namespace bot::test
