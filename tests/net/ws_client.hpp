// ws_client: a blocking WebSocket client for tests (Beast underneath, kept out
// of this header so that test files compile quickly). Every wait has a
// timeout, so a server that misbehaves fails a test instead of hanging it.
//
// Thread-safety: none; one test thread uses one client.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace bot::test {

struct ws_connect_options {
  std::string target = "/ws";
  std::string origin;    // "" = no Origin header
  std::string cookie;    // "" = no Cookie header
  int rcvbuf_bytes = 0;  // > 0: SO_RCVBUF of the socket, set before connecting
};

class ws_client {
 public:
  // Connects to 127.0.0.1:port and upgrades. On a refused upgrade returns
  // null and sets *http_status to the server's answer (0 when there was
  // none).
  static std::unique_ptr<ws_client> connect(std::uint16_t port, const ws_connect_options& o = {},
                                            int* http_status = nullptr);
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  // Sends one text (or binary) frame; false when the connection is gone.
  bool send(std::string_view text);
  bool send_binary(std::string_view bytes);
  // Sends `value` serialised as JSON.
  bool send_json(const boost::json::object& value);

  // The next frame as a JSON object, or nullopt when none came within
  // `timeout_ms` or the connection closed (see closed()). A frame that is not
  // a JSON object fails the test (CHECK in the caller: it throws).
  std::optional<boost::json::object> recv(int timeout_ms = 5000);
  // Frames until one of `type` (the others are skipped); throws when none
  // comes within `timeout_ms`.
  boost::json::object recv_type(std::string_view type, int timeout_ms = 5000);

  // Whether the server closed the connection (or it failed), and the close
  // code the server sent (0 when none).
  bool closed() const;
  int close_code() const;
  // Waits up to `timeout_ms` for the server to close, reading (and dropping)
  // frames meanwhile; true when it did.
  bool wait_closed(int timeout_ms = 5000);
  // Closes from the client side (normal closure), or just drops the TCP
  // connection when `abrupt`.
  void close(bool abrupt = false);

 private:
  ws_client();
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Frame helpers.
boost::json::object hello(std::string_view token = {}, std::int64_t last_seq = -1);
boost::json::object text_message(std::string_view client_msg_id, std::string_view text);
std::string str(const boost::json::object& o, std::string_view key);   // "" when absent
std::int64_t num(const boost::json::object& o, std::string_view key);  // -1 when absent

}  // namespace bot::test
