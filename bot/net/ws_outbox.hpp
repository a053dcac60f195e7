// The write side that both WebSocket sessions (visitor_session,
// agent_session) share: one write in flight, frames taken from the
// session's queue in order, and the close with its code once the queue has
// drained. Internal to bot/net (includes Beast).
//
// A Session provides ws_, writing_, close_code_ and closing_, and
// out_empty(), out_front() (the frame's text), out_pop(), out_clear() and
// on_written(). Runs on the session's strand.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <memory>

namespace bot::net {

template <typename Session>
void drain_outbox(const std::shared_ptr<Session>& s) {
  if (s->out_empty()) {
    s->writing_ = false;
    if (s->close_code_ != 0 && !s->closing_) {
      s->closing_ = true;
      s->ws_.async_close(boost::beast::websocket::close_reason(s->close_code_),
                         [s](boost::beast::error_code) {});
    }
    return;
  }
  s->writing_ = true;
  s->ws_.async_write(boost::asio::buffer(s->out_front()),
                     [s](boost::beast::error_code ec, std::size_t) {
                       s->out_pop();
                       if (ec) {
                         // The read side sees the failure too and ends the session.
                         s->writing_ = false;
                         s->out_clear();
                         return;
                       }
                       s->on_written();
                       drain_outbox(s);
                     });
}

}  // namespace bot::net
