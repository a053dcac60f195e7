#include "bot/net/server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bot/core/ids.hpp"
#include "http_client.hpp"

using namespace bot;
using bot::test::http_get;
using bot::test::http_raw;
namespace fs = std::filesystem;

namespace {

struct temp_web {
  fs::path dir = fs::temp_directory_path() / ("sb_web_" + core::random_hex(6));
  temp_web() {
    fs::create_directories(dir / "sub");
    fs::create_directories(dir / ".hidden");
    write("index.html", "<!doctype html><title>shop</title>");
    write("widget.js", "console.log('hi');");
    write("sub/page.css", "body{}");
    write(".secret", "password");
    write(".hidden/x.txt", "hidden");
  }
  ~temp_web() { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& body) {
    std::ofstream(dir / name) << body;
  }
};

// A server on 127.0.0.1 port 0, run by a background thread.
struct running_server {
  explicit running_server(net::server_options o) : srv(std::move(o)) {
    const auto s = srv.start();
    REQUIRE(s.ok());
    thread = std::thread([this] {
      srv.run();
      finished = true;
    });
  }
  ~running_server() {
    srv.stop();
    if (thread.joinable()) thread.join();
  }
  net::server srv;
  std::thread thread;
  std::atomic<bool> finished{false};
};

net::server_options options_for(const temp_web& web) {
  net::server_options o;
  o.listen = "127.0.0.1";
  o.port = 0;
  o.threads = 2;
  o.web_dir = web.dir.string();
  o.shutdown_grace_s = 3;
  return o;
}

}  // namespace

TEST_CASE("static paths never leave the web root") {
  CHECK(net::static_file_for("/") == "index.html");
  CHECK(net::static_file_for("/widget.js") == "widget.js");
  CHECK(net::static_file_for("/widget.js?v=3") == "widget.js");
  CHECK(net::static_file_for("/sub/") == "sub/index.html");
  CHECK(net::static_file_for("//sub//page.css") == "sub/page.css");
  CHECK(net::static_file_for("/../etc/passwd").empty());
  CHECK(net::static_file_for("/sub/../../x").empty());
  CHECK(net::static_file_for("/%2e%2e/x").empty());
  CHECK(net::static_file_for("/.env").empty());
  CHECK(net::static_file_for("/a\\b").empty());
  CHECK(net::static_file_for("relative").empty());
  CHECK(net::static_file_for(std::string("/a\0b", 4)).empty());
}

TEST_CASE("content types by extension") {
  CHECK(net::content_type_for("a.html") == "text/html; charset=utf-8");
  CHECK(net::content_type_for("widget.js") == "text/javascript; charset=utf-8");
  CHECK(net::content_type_for("x.css") == "text/css; charset=utf-8");
  CHECK(net::content_type_for("x.svg") == "image/svg+xml");
  CHECK(net::content_type_for("noext") == "application/octet-stream");
}

TEST_CASE("health, readiness and static files over a real socket") {
  temp_web web;
  auto opts = options_for(web);
  std::atomic<bool> store_ready{true};
  opts.readiness.push_back({"store", [&] { return store_ready.load(); }});
  running_server rs(opts);
  const auto port = rs.srv.port();
  REQUIRE(port != 0);

  auto r = http_get(port, "/healthz");
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");

  r = http_get(port, "/readyz");
  CHECK(r.status == 200);
  CHECK(r.body == "{\"store\":true,\"ready\":true}\n");
  store_ready = false;
  r = http_get(port, "/readyz");
  CHECK(r.status == 503);
  CHECK(r.body == "{\"store\":false,\"ready\":false}\n");

  r = http_get(port, "/");
  CHECK(r.status == 200);
  CHECK(r.body == "<!doctype html><title>shop</title>");
  CHECK(r.headers["content-type"] == "text/html; charset=utf-8");
  CHECK(r.headers["x-content-type-options"] == "nosniff");
  CHECK(r.headers["referrer-policy"] == "no-referrer");
  CHECK(r.headers["content-security-policy"].find("default-src 'self'") != std::string::npos);

  r = http_get(port, "/widget.js");
  CHECK(r.status == 200);
  CHECK(r.headers["content-type"] == "text/javascript; charset=utf-8");
  CHECK(r.body == "console.log('hi');");

  r = http_get(port, "/sub/page.css");
  CHECK(r.status == 200);
  CHECK(r.headers["content-type"] == "text/css; charset=utf-8");

  for (const char* bad : {"/../etc/passwd", "/sub/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                          "/.secret", "/.hidden/x.txt", "/missing.html"}) {
    INFO(bad);
    r = http_get(port, bad);
    CHECK(r.status == 404);
    CHECK(r.body.find("password") == std::string::npos);
  }

  r = http_get(port, "/", "POST");
  CHECK(r.status == 405);
  r = http_get(port, "/healthz", "DELETE");
  CHECK(r.status == 405);
}

TEST_CASE("HEAD, conditional GET, keep-alive and oversized requests") {
  temp_web web;
  running_server rs(options_for(web));
  const auto port = rs.srv.port();

  auto r = http_get(port, "/widget.js", "HEAD");
  CHECK(r.status == 200);
  CHECK(r.headers["content-length"] == "18");
  CHECK(r.body.empty());

  r = http_get(port, "/widget.js");
  const std::string etag = r.headers["etag"];
  REQUIRE_FALSE(etag.empty());
  r = http_raw(port, "GET /widget.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag +
                         "\r\nConnection: close\r\n\r\n");
  CHECK(r.status == 304);
  CHECK(r.body.empty());

  // Two requests on one connection.
  const int fd = bot::test::connect_local(port);
  REQUIRE(fd >= 0);
  const std::string two =
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: "
      "close\r\n\r\n";
  ::send(fd, two.data(), two.size(), MSG_NOSIGNAL);
  std::string all;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    all.append(buf, static_cast<size_t>(n));
  ::close(fd);
  std::size_t count = 0;
  for (auto p = all.find("HTTP/1.1 200"); p != std::string::npos;
       p = all.find("HTTP/1.1 200", p + 1))
    ++count;
  CHECK(count == 2);

  const std::string big(100 * 1024, 'x');
  r = http_raw(port, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                         std::to_string(big.size()) + "\r\n\r\n" + big);
  CHECK(r.status == 413);

  r = http_raw(port, "garbage\r\n\r\n");
  CHECK(r.status == 400);
  CHECK(http_get(port, "/healthz").status == 200);  // and the server is fine
}

TEST_CASE("stop closes idle keep-alive connections and returns promptly") {
  temp_web web;
  running_server rs(options_for(web));
  const auto port = rs.srv.port();
  // An idle keep-alive connection that never sends anything else.
  const int idle = bot::test::connect_local(port);
  REQUIRE(idle >= 0);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ::send(idle, req.data(), req.size(), MSG_NOSIGNAL);
  char buf[1024];
  // Read the whole response (it may come in more than one segment).
  std::string got;
  while (got.find("\r\n\r\nok\n") == std::string::npos) {
    const ssize_t n = ::recv(idle, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    got.append(buf, static_cast<std::size_t>(n));
  }

  const auto t0 = std::chrono::steady_clock::now();
  rs.srv.stop();
  rs.thread.join();
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(rs.finished.load());
  CHECK(took < std::chrono::seconds(2));         // well inside the 3 s grace: closed, not timed out
  CHECK(::recv(idle, buf, sizeof buf, 0) == 0);  // the server closed it
  ::close(idle);
  CHECK(bot::test::connect_local(port) == -1);  // no longer accepting
}

TEST_CASE("start reports a port already in use and a bad address") {
  temp_web web;
  running_server first(options_for(web));
  auto o = options_for(web);
  o.port = first.srv.port();
  net::server second(o);
  auto s = second.start();
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("cannot listen on 127.0.0.1:") != std::string::npos);

  auto o2 = options_for(web);
  o2.listen = "not-an-ip";
  net::server third(o2);
  CHECK(third.start().message() == "listen: 'not-an-ip' is not an IP address");
}
