#include "bot/net/ws_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>

#include "bot/core/log.hpp"
#include "bot/net/ws_outbox.hpp"

namespace bot::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t k_max_early_frames = 64;

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

visitor_session::visitor_session(beast::tcp_stream stream, ws_env& env, std::uint64_t id)
    : ws_(std::move(stream)), env_(env), id_(id) {}

visitor_session::~visitor_session() = default;

asio::awaitable<void> visitor_session::run(std::unique_ptr<http::request<http::string_body>> req) {
  auto self = shared_from_this();
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = std::chrono::seconds(env_.limits.handshake_timeout_s);
  timeouts.idle_timeout = std::chrono::seconds(env_.limits.idle_timeout_s);
  timeouts.keep_alive_pings = true;  // a ping at half the idle timeout
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "supportbot"); }));
  ws_.read_message_max(static_cast<std::size_t>(env_.limits.max_frame_bytes));
  ws_.auto_fragment(false);
  ws_.text(true);

  auto [aec] = co_await ws_.async_accept(*req, use_tuple);
  req.reset();
  if (aec) co_return;
  open_ = true;
  env_.metrics.ws_open.fetch_add(1, std::memory_order_relaxed);
  env_.metrics.ws_accepted.fetch_add(1, std::memory_order_relaxed);
  core::log::info("ws_open", {{"connection_id", id_}});

  // The hello must come within the handshake timeout.
  asio::steady_timer hello_timer(ws_.get_executor(),
                                 std::chrono::seconds(env_.limits.handshake_timeout_s));
  hello_timer.async_wait([w = weak_from_this()](beast::error_code ec) {
    auto s = w.lock();
    if (ec || !s || s->conv_ || s->hello_pending_) return;
    s->error(protocol::errc::hello_first, "no hello within the handshake timeout");
    s->begin_close(static_cast<std::uint16_t>(websocket::close_code::policy_error));
  });

  beast::flat_buffer buffer;
  beast::error_code why;
  for (;;) {
    // A small first read: an idle connection waits with a 256-byte buffer
    // (Beast prepares 1536 for a whole-message read). Larger frames are
    // read on in bigger steps (the bytes are already in Beast's own buffer);
    // read_message_max bounds them.
    auto [ec, n] =
        co_await ws_.async_read_some(buffer, buffer.size() == 0 ? 256 : 65536, use_tuple);
    if (ec) {
      why = ec;
      break;
    }
    if (!ws_.is_message_done()) continue;
    const std::int64_t t_in = steady_now_ns();
    ++frames_in_;
    env_.metrics.frames_in.fetch_add(1, std::memory_order_relaxed);
    if (!ws_.got_text()) {
      error(protocol::errc::bad_frame, "binary frames are not part of the protocol");
    } else {
      const auto data = buffer.cdata();
      handle(protocol::decode_visitor(
                 std::string_view(static_cast<const char*>(data.data()), data.size()), env_.decode),
             t_in);
    }
    buffer.consume(buffer.size());
    // Nothing is kept between frames: an idle connection holds no buffer.
    buffer.shrink_to_fit();
  }
  hello_timer.cancel();
  open_ = false;
  env_.metrics.ws_open.fetch_sub(1, std::memory_order_relaxed);
  if (conv_) conv_->detach(this);
  const auto reason = ws_.reason();
  core::log::info(
      "ws_close",
      {{"connection_id", id_},
       {"conversation_id", conv_ ? std::string_view(conv_->id()) : std::string_view()},
       {"close_code", static_cast<std::int64_t>(close_code_ != 0 ? close_code_ : reason.code)},
       {"why", why == websocket::error::closed ? std::string("closed") : why.message()},
       {"frames_in", frames_in_},
       {"frames_out", frames_out_}});
  conv_.reset();
  out_clear();
}

void visitor_session::handle(protocol::decoded d, std::int64_t t_in_ns) {
  if (!d.frame) return error(d.error.code, std::move(d.error.message), d.error.client_msg_id);
  if (std::holds_alternative<protocol::hello>(*d.frame)) {
    if (conv_ || hello_pending_)
      return error(protocol::errc::already_hello, "hello was already sent");
    return on_hello(std::move(std::get<protocol::hello>(*d.frame)));
  }
  if (!conv_) {
    if (!hello_pending_)
      return error(protocol::errc::hello_first, "the first frame must be a hello");
    // Sent right behind the hello: handled once the conversation is open.
    if (early_.size() >= k_max_early_frames)
      return error(protocol::errc::unavailable, "too many frames before the welcome");
    early_.emplace_back(std::move(*d.frame), t_in_ns);
    return;
  }
  dispatch(std::move(*d.frame), t_in_ns);
}

void visitor_session::dispatch(protocol::visitor_frame f, std::int64_t t_in_ns) {
  auto self = shared_from_this();
  std::visit(
      [&](auto&& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, protocol::message>) {
          conv_->on_message(self, std::move(v), t_in_ns);
        } else if constexpr (std::is_same_v<T, protocol::typing>) {
          conv_->on_typing(self, v);
        } else if constexpr (std::is_same_v<T, protocol::feedback>) {
          conv_->on_feedback(self, v);
        } else if constexpr (std::is_same_v<T, protocol::survey>) {
          conv_->on_survey(self, std::move(v));
        } else if constexpr (std::is_same_v<T, protocol::contact>) {
          conv_->on_contact(self, std::move(v));
        } else if constexpr (std::is_same_v<T, protocol::close>) {
          conv_->on_close(self);
        }
      },
      std::move(f));
}

void visitor_session::on_hello(protocol::hello h) {
  hello_pending_ = true;
  env_.hub.hello(
      shared_from_this(), std::move(h),
      [w = weak_from_this()](core::result<std::shared_ptr<conversation>> r) {
        auto s = w.lock();
        if (!s) return;
        asio::post(s->ws_.get_executor(), [s, r = std::move(r)]() mutable {
          s->hello_pending_ = false;
          if (!r.ok()) {
            s->early_.clear();
            s->error(protocol::errc::unavailable,
                     "the conversation could not be opened; try again");
            s->begin_close(static_cast<std::uint16_t>(websocket::close_code::try_again_later));
            return;
          }
          s->conv_ = std::move(r.value());
          if (!s->open_) {
            s->conv_->detach(s.get());
            return;
          }
          auto early = std::move(s->early_);
          s->early_.clear();
          for (auto& [f, t] : early) s->dispatch(std::move(f), t);
          if (s->stopping_) {
            s->conv_->when_idle([w = std::weak_ptr<visitor_session>(s)] {
              if (auto x = w.lock())
                x->close(static_cast<std::uint16_t>(websocket::close_code::going_away));
            });
          }
        });
      });
}

void visitor_session::error(std::string_view code, std::string message,
                            std::string_view client_msg_id) {
  env_.metrics.frame_errors.fetch_add(1, std::memory_order_relaxed);
  core::log::info("ws_error",
                  {{"connection_id", id_},
                   {"conversation_id", conv_ ? std::string_view(conv_->id()) : std::string_view()},
                   {"code", code}});
  enqueue(std::make_shared<const std::string>(protocol::encode_error(code, message, client_msg_id)),
          false);
}

void visitor_session::send(shared_frame frame, bool droppable) {
  asio::post(ws_.get_executor(),
             [s = shared_from_this(), frame = std::move(frame), droppable]() mutable {
               s->enqueue(std::move(frame), droppable);
             });
}

void visitor_session::send_history(shared_frame frame) {
  asio::post(ws_.get_executor(), [s = shared_from_this(), frame = std::move(frame)]() mutable {
    s->enqueue(std::move(frame), false, true);
  });
}

void visitor_session::close(std::uint16_t code) {
  asio::post(ws_.get_executor(), [s = shared_from_this(), code] { s->begin_close(code); });
}

void visitor_session::shutdown() {
  asio::post(ws_.get_executor(), [s = shared_from_this()] {
    if (s->stopping_) return;
    s->stopping_ = true;
    const auto going_away = static_cast<std::uint16_t>(websocket::close_code::going_away);
    if (s->conv_) {
      s->conv_->when_idle([w = std::weak_ptr<visitor_session>(s), going_away] {
        if (auto x = w.lock()) x->close(going_away);
      });
    } else if (!s->hello_pending_) {
      s->begin_close(going_away);
    }
  });
}

void visitor_session::enqueue(shared_frame frame, bool droppable, bool history) {
  if (!open_ || close_code_ != 0) return;
  const auto max = static_cast<std::size_t>(std::max(1, env_.limits.outbound_queue));
  if (!history && queue_.size() - history_queued_ >= max) {
    if (droppable) {
      env_.metrics.frames_dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // Typing indicators go first; a client that still cannot keep up is
    // closed (1008) and resumes from its last seq when it reconnects.
    const auto first = queue_.begin() + (writing_ ? 1 : 0);
    const auto it =
        std::find_if(first, queue_.end(), [](const out_frame& f) { return f.droppable; });
    if (it != queue_.end()) {
      queue_.erase(it);
      env_.metrics.frames_dropped.fetch_add(1, std::memory_order_relaxed);
    } else {
      env_.metrics.slow_closes.fetch_add(1, std::memory_order_relaxed);
      core::log::warn("ws_slow_client", {{"connection_id", id_},
                                         {"conversation_id", conv_ ? std::string_view(conv_->id())
                                                                   : std::string_view()},
                                         {"queued", queue_.size()}});
      queue_.erase(first, queue_.end());
      history_queued_ = queue_.size() == 1 && queue_.front().history ? 1 : 0;
      begin_close(static_cast<std::uint16_t>(websocket::close_code::policy_error));
      return;
    }
  }
  if (history) ++history_queued_;
  queue_.push_back({std::move(frame), droppable, history});
  if (!writing_) write_next();
}

void visitor_session::write_next() {
  drain_outbox(shared_from_this());
}

void visitor_session::out_clear() {
  queue_.clear();
  history_queued_ = 0;
}

void visitor_session::on_written() {
  ++frames_out_;
  env_.metrics.frames_out.fetch_add(1, std::memory_order_relaxed);
}

void visitor_session::out_pop() {
  if (queue_.empty()) return;
  if (queue_.front().history) --history_queued_;
  queue_.erase(queue_.begin());
}

void visitor_session::begin_close(std::uint16_t code) {
  if (!open_ || close_code_ != 0) return;
  close_code_ = code;
  if (!writing_) write_next();
}

}  // namespace bot::net
