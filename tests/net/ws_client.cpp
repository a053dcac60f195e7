#include "ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <deque>
#include <stdexcept>

namespace bot::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

struct ws_client::impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  std::deque<std::string> frames;  // read, not yet returned
  bool reading = false;
  bool is_closed = false;
  int code = 0;

  // Runs handlers until `done()` or the deadline; true when done.
  template <typename Pred>
  bool run_until(Pred done, int timeout_ms) {
    const auto deadline = steady::now() + std::chrono::milliseconds(timeout_ms);
    ioc.restart();
    ioc.poll();  // what is ready now, even with no time to wait
    while (!done()) {
      const auto now = steady::now();
      if (now >= deadline) return false;
      if (ioc.run_one_for(deadline - now) == 0 && ioc.stopped()) ioc.restart();
    }
    return true;
  }

  void start_read() {
    if (reading || is_closed) return;
    reading = true;
    ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
      reading = false;
      if (ec) {
        is_closed = true;
        code = ws.reason().code;
        return;
      }
      frames.push_back(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
    });
  }

  bool write(std::string_view bytes, bool text) {
    if (is_closed) return false;
    ws.text(text);
    bool done = false;
    beast::error_code result;
    ws.async_write(asio::buffer(bytes.data(), bytes.size()),
                   [&](beast::error_code ec, std::size_t) {
                     result = ec;
                     done = true;
                   });
    if (!run_until([&] { return done; }, 10000))
      throw std::runtime_error("ws_client: write timed out");
    return !result;
  }
};

ws_client::ws_client() : impl_(std::make_unique<impl>()) {}
ws_client::~ws_client() = default;

std::unique_ptr<ws_client> ws_client::connect(std::uint16_t port, const ws_connect_options& o,
                                              int* http_status) {
  std::unique_ptr<ws_client> c(new ws_client());
  impl& im = *c->impl_;
  if (http_status) *http_status = 0;
  auto& sock = beast::get_lowest_layer(im.ws).socket();
  beast::error_code ec;
  sock.open(tcp::v4(), ec);
  if (ec) return nullptr;
  if (o.rcvbuf_bytes > 0)
    sock.set_option(asio::socket_base::receive_buffer_size(o.rcvbuf_bytes), ec);
  sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return nullptr;
  if (!o.origin.empty() || !o.cookie.empty()) {
    im.ws.set_option(websocket::stream_base::decorator(
        [origin = o.origin, cookie = o.cookie](websocket::request_type& req) {
          if (!origin.empty()) req.set(beast::http::field::origin, origin);
          if (!cookie.empty()) req.set(beast::http::field::cookie, cookie);
        }));
  }
  // The server's frames can be as large as ours may be; leave room for tests.
  im.ws.read_message_max(1 << 22);
  websocket::response_type res;
  bool done = false;
  beast::error_code hec;
  beast::get_lowest_layer(im.ws).expires_after(std::chrono::seconds(10));
  im.ws.async_handshake(res, "127.0.0.1:" + std::to_string(port), o.target,
                        [&](beast::error_code e) {
                          hec = e;
                          done = true;
                        });
  if (!im.run_until([&] { return done; }, 15000)) return nullptr;
  beast::get_lowest_layer(im.ws).expires_never();
  if (http_status) *http_status = static_cast<int>(res.result_int());
  if (hec) return nullptr;
  return c;
}

bool ws_client::send(std::string_view text) {
  return impl_->write(text, true);
}
bool ws_client::send_binary(std::string_view bytes) {
  return impl_->write(bytes, false);
}
bool ws_client::send_json(const json::object& value) {
  return send(json::serialize(value));
}

std::optional<json::object> ws_client::recv(int timeout_ms) {
  impl& im = *impl_;
  if (im.frames.empty()) {
    im.start_read();
    im.run_until([&] { return !im.frames.empty() || im.is_closed; }, timeout_ms);
  }
  if (im.frames.empty()) return std::nullopt;
  std::string f = std::move(im.frames.front());
  im.frames.pop_front();
  boost::system::error_code ec;
  json::value v = json::parse(f, ec);
  if (ec || !v.is_object())
    throw std::runtime_error("ws_client: a frame that is not a JSON object: " + f);
  return std::move(v.get_object());
}

json::object ws_client::recv_type(std::string_view type, int timeout_ms) {
  const auto deadline = steady::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0) break;
    auto f = recv(static_cast<int>(left));
    if (!f) break;
    if (str(*f, "type") == type) return std::move(*f);
  }
  throw std::runtime_error("ws_client: no '" + std::string(type) + "' frame within " +
                           std::to_string(timeout_ms) + " ms" + (closed() ? " (closed)" : ""));
}

bool ws_client::closed() const {
  return impl_->is_closed;
}
int ws_client::close_code() const {
  return impl_->code;
}

bool ws_client::wait_closed(int timeout_ms) {
  const auto deadline = steady::now() + std::chrono::milliseconds(timeout_ms);
  while (!impl_->is_closed) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0) return false;
    impl_->frames.clear();
    impl_->start_read();
    impl_->run_until([&] { return !impl_->frames.empty() || impl_->is_closed; },
                     static_cast<int>(left));
  }
  return true;
}

void ws_client::close(bool abrupt) {
  impl& im = *impl_;
  if (im.is_closed) return;
  if (abrupt) {
    beast::error_code ec;
    beast::get_lowest_layer(im.ws).socket().close(ec);
    im.is_closed = true;
    return;
  }
  bool done = false;
  im.ws.async_close(websocket::close_code::normal, [&](beast::error_code) { done = true; });
  im.run_until([&] { return done; }, 5000);
  im.is_closed = true;
}

json::object hello(std::string_view token, std::int64_t last_seq) {
  json::object o{{"type", "hello"}};
  if (!token.empty()) o["token"] = token;
  if (last_seq >= 0) o["last_seq"] = last_seq;
  return o;
}

json::object text_message(std::string_view client_msg_id, std::string_view text) {
  return {{"type", "message"}, {"client_msg_id", client_msg_id}, {"text", text}};
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t num(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->get_int64() : -1;
}

}  // namespace bot::test
