// One agent console connection (/agent/ws): authenticated by the session
// cookie before the upgrade; reads agent frames (claim, message, release,
// close) and hands them to the conversation they name; writes what the desk
// and the conversations send through a bounded queue. It checks every 2 s
// that its login still stands (logout, expiry) and closes (1008) when not.
// Internal to bot/net (includes Beast).
//
// Threading: everything runs on the connection's strand; send() posts to it.
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
#include "bot/handoff/sessions.hpp"
#include "bot/net/conversation.hpp"
#include "bot/net/desk.hpp"
#include "bot/protocol/protocol.hpp"
#include "bot/store/store.hpp"

namespace bot::net {

class agent_auth;

struct agent_env {
  conversation_hub& hub;
  store::store& db;  // agent lookups (transfer to an agent)
  desk& agents;
  agent_auth& auth;
  core::limits_config limits;
  protocol::decode_limits decode;
};

class agent_session final : public agent_link, public std::enable_shared_from_this<agent_session> {
 public:
  agent_session(boost::beast::tcp_stream stream, agent_env& env, handoff::agent_session who,
                std::string token);

  boost::asio::awaitable<void> run(
      std::unique_ptr<boost::beast::http::request<boost::beast::http::string_body>> req);
  void send(shared_frame frame, kind k = kind::normal) override;
  // Server shutdown: close with 1001.
  void shutdown();

 private:
  void handle(std::string_view text);
  void transfer_to_agent(const std::shared_ptr<conversation>& c, agent_ref me, std::string name);
  void error(std::string_view code, const std::string& message,
             std::string_view conversation_id = {}, std::string_view client_msg_id = {});
  void enqueue(shared_frame frame, kind k = kind::normal);
  void write_next();
  // For drain_outbox (ws_outbox.hpp).
  template <typename S>
  friend void drain_outbox(const std::shared_ptr<S>& s);
  bool out_empty() const { return queue_.empty(); }
  const std::string& out_front() const { return *queue_.front(); }
  void out_pop();
  void out_clear();
  void on_written() {}
  void begin_close(std::uint16_t code);
  boost::asio::awaitable<void> watch_login();
  void check_account();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  agent_env& env_;
  const handoff::agent_session who_;
  const std::string token_;
  std::vector<shared_frame> queue_;
  std::vector<kind> kinds_;  // parallel to queue_
  bool writing_ = false;
  bool open_ = false;
  std::uint16_t close_code_ = 0;
  bool closing_ = false;
  bool stopping_ = false;  // shutdown() came, maybe before the upgrade finished
};

}  // namespace bot::net
