#include "bot/net/agent_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>

#include "bot/core/log.hpp"
#include "bot/net/agent_auth.hpp"
#include "bot/net/ws_outbox.hpp"

namespace bot::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto k_login_check = std::chrono::seconds(2);
}  // namespace

agent_session::agent_session(beast::tcp_stream stream, agent_env& env, handoff::agent_session who,
                             std::string token)
    : ws_(std::move(stream)), env_(env), who_(std::move(who)), token_(std::move(token)) {}

asio::awaitable<void> agent_session::run(std::unique_ptr<http::request<http::string_body>> req) {
  auto self = shared_from_this();
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = std::chrono::seconds(env_.limits.handshake_timeout_s);
  timeouts.idle_timeout = std::chrono::seconds(env_.limits.idle_timeout_s);
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.read_message_max(static_cast<std::size_t>(env_.limits.max_frame_bytes));
  ws_.text(true);
  auto [aec] = co_await ws_.async_accept(*req, use_tuple);
  req.reset();
  if (aec) co_return;
  open_ = true;
  if (stopping_) begin_close(static_cast<std::uint16_t>(websocket::close_code::going_away));
  core::log::info("agent_ws_open", {{"agent", who_.name}});
  env_.agents.attach({who_.agent_id, who_.name, who_.display_name, who_.teams, who_.max_chats},
                     self);
  // Their conversations come back after a reconnect (or a server restart).
  env_.hub.resume_agent({who_.agent_id, who_.name, who_.display_name, weak_from_this()});
  asio::co_spawn(ws_.get_executor(), watch_login(), asio::detached);

  beast::flat_buffer buffer;
  for (;;) {
    auto [ec, n] = co_await ws_.async_read(buffer, use_tuple);
    if (ec) break;
    if (!ws_.got_text()) {
      error(protocol::errc::bad_frame, "binary frames are not part of the protocol");
    } else {
      const auto data = buffer.cdata();
      handle(std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    buffer.consume(buffer.size());
    buffer.shrink_to_fit();
  }
  open_ = false;
  env_.agents.detach(this);
  out_clear();
  core::log::info("agent_ws_close", {{"agent", who_.name}});
}

// Ends the connection when its login no longer stands (logout, expiry, a
// restart of the session table).
asio::awaitable<void> agent_session::watch_login() {
  auto self = shared_from_this();
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (open_ && close_code_ == 0) {
    if (!env_.auth.sessions().find(token_, core::system_clock::instance().now_ms())) {
      core::log::info("agent_ws_logged_out", {{"agent", who_.name}});
      begin_close(static_cast<std::uint16_t>(websocket::close_code::policy_error));
      break;
    }
    check_account();
    timer.expires_after(k_login_check);
    co_await timer.async_wait(use_tuple);
  }
}

// `supportbot agent disable` or `passwd` (another process) changes the
// account in the database: its sessions end (after a new password, those
// made with the old one).
void agent_session::check_account() {
  env_.db.find_agent(who_.name, [self = shared_from_this()](core::result<store::agent_row> r) {
    const bool gone = !r.ok() && r.error().code() == core::errc::not_found;
    const bool disabled = r.ok() && r.value().disabled;
    const bool new_password = r.ok() && r.value().password_hash != self->who_.credential;
    if (!gone && !disabled && !new_password) return;
    const std::string keep = gone || disabled ? std::string() : r.value().password_hash;
    asio::post(self->ws_.get_executor(), [self, keep] {
      const std::size_t ended = self->env_.auth.sessions().erase_agent(self->who_.name, keep);
      core::log::info("agent_ws_account_changed",
                      {{"agent", self->who_.name}, {"sessions", ended}});
      self->begin_close(static_cast<std::uint16_t>(websocket::close_code::policy_error));
    });
  });
}

void agent_session::handle(std::string_view text) {
  auto d = protocol::decode_agent(text, env_.decode);
  if (d.frame) {
    if (const auto* p = std::get_if<protocol::agent_presence>(&*d.frame)) {
      return env_.agents.presence(this, p->away);
    }
  }
  env_.agents.seen(this);  // every frame is a heartbeat
  if (!d.frame) return error(d.error.code, d.error.message, {}, d.error.client_msg_id);
  std::string id;
  std::visit([&](const auto& f) { id = f.conversation_id; }, *d.frame);
  agent_ref me{who_.agent_id, who_.name, who_.display_name, weak_from_this()};
  env_.hub.find(id, [self = shared_from_this(), me = std::move(me), frame = std::move(*d.frame),
                     id](core::result<std::shared_ptr<conversation>> r) mutable {
    if (!r.ok()) {
      const bool missing = r.error().code() == core::errc::not_found;
      asio::post(self->ws_.get_executor(), [self, id, missing] {
        self->error(missing ? protocol::errc::not_found : protocol::errc::unavailable,
                    missing ? "no such conversation" : "try again in a moment", id);
      });
      return;
    }
    auto& c = *r.value();
    std::visit(
        [&](auto&& f) {
          using T = std::decay_t<decltype(f)>;
          if constexpr (std::is_same_v<T, protocol::agent_claim>) {
            c.agent_claim(std::move(me));
          } else if constexpr (std::is_same_v<T, protocol::agent_message>) {
            c.agent_message(std::move(me), std::move(f.client_msg_id), std::move(f.text));
          } else if constexpr (std::is_same_v<T, protocol::agent_release>) {
            c.agent_release(std::move(me));
          } else if constexpr (std::is_same_v<T, protocol::agent_typing>) {
            c.agent_typing(std::move(me), f.on);
          } else if constexpr (std::is_same_v<T, protocol::agent_note>) {
            c.agent_note(std::move(me), std::move(f.text));
          } else if constexpr (std::is_same_v<T, protocol::agent_transfer>) {
            if (!f.team.empty()) {
              c.agent_transfer_team(std::move(me), std::move(f.team));
            } else {
              self->transfer_to_agent(r.value(), std::move(me), std::move(f.agent));
            }
          } else if constexpr (std::is_same_v<T, protocol::agent_close>) {
            c.agent_close(std::move(me));
          }
        },
        frame);
  });
}

// Looks the target agent up (on a store reader thread), then asks the
// conversation to hand over.
void agent_session::transfer_to_agent(const std::shared_ptr<conversation>& c, agent_ref me,
                                      std::string name) {
  env_.db.find_agent(name, [self = shared_from_this(), c, me = std::move(me),
                            name](core::result<store::agent_row> r) {
    if (!r.ok() || r.value().disabled) {
      asio::post(self->ws_.get_executor(), [self, id = c->id(), name] {
        self->error(protocol::errc::not_found, "no active agent '" + name + "'", id);
      });
      return;
    }
    c->agent_transfer_agent(me, {r.value().id, r.value().name, r.value().display_name, {}});
  });
}

void agent_session::error(std::string_view code, const std::string& message,
                          std::string_view conversation_id, std::string_view client_msg_id) {
  core::log::info("agent_ws_error",
                  {{"agent", who_.name}, {"code", code}, {"conversation_id", conversation_id}});
  enqueue(std::make_shared<const std::string>(
      protocol::encode_agent_error(code, message, conversation_id, client_msg_id)));
}

void agent_session::send(shared_frame frame, kind k) {
  asio::post(ws_.get_executor(), [s = shared_from_this(), frame = std::move(frame), k]() mutable {
    s->enqueue(std::move(frame), k);
  });
}

void agent_session::shutdown() {
  asio::post(ws_.get_executor(), [s = shared_from_this()] {
    s->stopping_ = true;
    s->begin_close(static_cast<std::uint16_t>(websocket::close_code::going_away));
  });
}

void agent_session::enqueue(shared_frame frame, kind k) {
  if (!open_ || close_code_ != 0) return;
  const auto max = static_cast<std::size_t>(std::max(1, env_.limits.outbound_queue));
  const std::size_t first = writing_ ? 1 : 0;  // the frame being written stays
  if (k == kind::droppable && queue_.size() >= max / 2) return;
  if (k == kind::snapshot || k == kind::presence) {
    // Only the newest queue (or agents list) matters: it replaces one not yet sent.
    for (std::size_t i = first; i < queue_.size(); ++i) {
      if (kinds_[i] == k) {
        queue_[i] = std::move(frame);
        return;
      }
    }
  }
  if (queue_.size() >= max) {
    // A console that cannot keep up reconnects and gets a fresh queue.
    core::log::warn("agent_ws_slow", {{"agent", who_.name}});
    queue_.erase(queue_.begin() + static_cast<long>(first), queue_.end());
    kinds_.resize(queue_.size());
    begin_close(static_cast<std::uint16_t>(websocket::close_code::policy_error));
    return;
  }
  queue_.push_back(std::move(frame));
  kinds_.push_back(k);
  if (!writing_) write_next();
}

void agent_session::write_next() {
  drain_outbox(shared_from_this());
}

void agent_session::out_pop() {
  if (queue_.empty()) return;
  queue_.erase(queue_.begin());
  kinds_.erase(kinds_.begin());
}

void agent_session::out_clear() {
  queue_.clear();
  kinds_.clear();
}

void agent_session::begin_close(std::uint16_t code) {
  if (!open_ || close_code_ != 0) return;
  close_code_ = code;
  if (!writing_) write_next();
}

}  // namespace bot::net
