// One visitor WebSocket connection (/ws): reads frames, decodes them, hands
// them to its conversation, and writes what the conversation sends through
// a bounded outbound queue. Internal to bot/net (includes Beast).
//
// Threading: everything runs on the connection's strand (the executor of its
// socket); send(), close() and shutdown() post to it from any thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>
#include <string>
#include <vector>

#include "bot/core/config.hpp"
#include "bot/net/conversation.hpp"
#include "bot/net/metrics.hpp"
#include "bot/protocol/protocol.hpp"

namespace bot::net {

struct ws_env {
  conversation_hub& hub;
  net_metrics& metrics;
  core::limits_config limits;
  protocol::decode_limits decode;
};

class visitor_session final : public visitor_link,
                              public std::enable_shared_from_this<visitor_session> {
 public:
  visitor_session(boost::beast::tcp_stream stream, ws_env& env, std::uint64_t id);
  ~visitor_session() override;

  // Accepts the upgrade `req` and serves the connection until it closes.
  // (Taken by pointer: it is freed once accepted, and the coroutine frame
  // of every idle connection stays small.)
  boost::asio::awaitable<void> run(
      std::unique_ptr<boost::beast::http::request<boost::beast::http::string_body>> req);

  void send(shared_frame frame, bool droppable) override;
  void send_history(shared_frame frame) override;
  void close(std::uint16_t code) override;
  // Server shutdown: finish the conversation's turns in flight, then 1001.
  void shutdown();

 private:
  struct out_frame {
    shared_frame frame;
    bool droppable = false;
    bool history = false;  // a replayed message: not counted against the bound
  };

  void handle(protocol::decoded d, std::int64_t t_in_ns);
  void dispatch(protocol::visitor_frame f, std::int64_t t_in_ns);
  void on_hello(protocol::hello h);
  void error(std::string_view code, std::string message, std::string_view client_msg_id = {});
  void enqueue(shared_frame frame, bool droppable, bool history = false);
  void write_next();
  // For drain_outbox (ws_outbox.hpp).
  template <typename S>
  friend void drain_outbox(const std::shared_ptr<S>& s);
  bool out_empty() const { return queue_.empty(); }
  const std::string& out_front() const { return *queue_.front().frame; }
  void out_pop();
  void out_clear();
  void on_written();
  void begin_close(std::uint16_t code);

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  ws_env& env_;
  const std::uint64_t id_;
  std::shared_ptr<conversation> conv_;
  bool hello_pending_ = false;
  std::vector<std::pair<protocol::visitor_frame, std::int64_t>>
      early_;                       // frames sent before welcome
  std::vector<out_frame> queue_;    // usually 0-2 frames; a deque would allocate even when empty
  std::size_t history_queued_ = 0;  // frames of queue_ with `history`
  bool writing_ = false;
  std::uint16_t close_code_ = 0;  // a close was asked for
  bool closing_ = false;          // async_close started
  bool stopping_ = false;
  bool open_ = false;
  std::uint64_t frames_in_ = 0;
  std::uint64_t frames_out_ = 0;
};

}  // namespace bot::net
