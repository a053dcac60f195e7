// loadgen: a WebSocket load generator for the visitor protocol (DESIGN §7).
//
//   loadgen --url ws://HOST:PORT/ws --connections N --duration SECONDS
//           --messages FILE [--rate R] [--ramp SECONDS] [--idle]
//           [--threads T] [--origin ORIGIN] [--json]
//
// Opens N connections spread over the ramp; each says `hello`, then sends the
// lines of FILE (blank lines skipped, cycled, each connection starting at its
// own offset), one message in flight per connection:
// - closed loop (default): the next message leaves as soon as the previous
//   one is complete; latency runs from the send to the completion.
// - open loop (`--rate R`): R messages/s in total, each connection on its own
//   fixed schedule; latency runs from the *intended* send time, so a slow
//   server is not hidden by the client waiting for it (coordinated omission).
// - `--idle`: hello, then hold the connection open (Beast answers pings while
//   a read is pending) and report how many stayed open.
//
// A message is complete on the bot's reply (a `message` from "bot" after its
// ack), on an `error` frame for it, or on a `state` frame handing the
// conversation to humans (then the client sends `close`, which lets the next
// message reopen the conversation with the bot). A dropped connection is
// resumed with the saved token and last_seq; an unacked message is resent
// with the same client_msg_id.
//
// Threads: each worker thread runs its own io_context and owns its
// connections and statistics; nothing is shared between workers until they
// have stopped, except two atomic progress counters. Workers own their
// connections, which outlive every coroutine (io_context::run returns first).
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// Largest frame accepted from the server; the server's own default limit.
constexpr std::size_t k_read_message_max = 64 * 1024;
constexpr auto k_connect_timeout = 10s;
constexpr auto k_handshake_timeout = 10s;  // WebSocket handshake and close
constexpr auto k_backoff_min = 50ms;
constexpr auto k_backoff_max = 2s;

// ---------------------------------------------------------------------------
// Options

struct options {
  std::string url;
  std::string host;
  std::string port;
  std::string target;
  int connections = 0;
  double duration_s = 0;
  std::string messages_path;
  double rate = 0;     // messages/s in total; 0 = closed loop
  double ramp_s = -1;  // < 0: min(5, duration / 4)
  bool idle = false;
  bool json = false;
  int threads = 1;
  std::string origin = "http://127.0.0.1";
};

void print_usage(std::ostream& out) {
  out << "usage: loadgen --url ws://HOST:PORT/ws --connections N --duration SECONDS\n"
         "               --messages FILE [--rate R] [--ramp SECONDS] [--idle]\n"
         "               [--threads T] [--origin ORIGIN] [--json]\n"
         "  --rate R      open loop: R messages/s in total (default: closed loop)\n"
         "  --ramp S      seconds over which connections are opened\n"
         "                (default: min(5, duration/4)); not part of the measurement\n"
         "  --idle        hello, then hold the connections idle; --messages not needed\n"
         "  --threads T   client I/O threads (default 1)\n"
         "  --origin O    Origin header of the handshake (default http://127.0.0.1)\n"
         "  --json        one JSON object on stdout instead of the text report\n";
}

bool parse_double(std::string_view s, double& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

bool parse_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

// Splits ws://host:port/path. Only plain ws (the benchmark runs on loopback).
bool parse_url(options& o) {
  constexpr std::string_view scheme = "ws://";
  std::string_view u = o.url;
  if (!u.starts_with(scheme)) return false;
  u.remove_prefix(scheme.size());
  auto slash = u.find('/');
  std::string_view authority = u.substr(0, slash);
  o.target = slash == std::string_view::npos ? "/" : std::string(u.substr(slash));
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    o.host = std::string(authority);
    o.port = "80";
  } else {
    o.host = std::string(authority.substr(0, colon));
    o.port = std::string(authority.substr(colon + 1));
  }
  return !o.host.empty() && !o.port.empty();
}

// Returns an error message, or an empty string when the options are usable.
std::string parse_options(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view& v) {
      if (i + 1 >= argc) return false;
      v = argv[++i];
      return true;
    };
    std::string_view v;
    if (a == "--idle") {
      o.idle = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--help" || a == "-h") {
      return "help";
    } else if (!value(v)) {
      return std::string("missing value or unknown option: ") + std::string(a);
    } else if (a == "--url") {
      o.url = std::string(v);
    } else if (a == "--connections") {
      if (!parse_int(v, o.connections) || o.connections < 1) return "--connections: a number >= 1";
    } else if (a == "--duration") {
      if (!parse_double(v, o.duration_s) || o.duration_s <= 0) return "--duration: seconds > 0";
    } else if (a == "--messages") {
      o.messages_path = std::string(v);
    } else if (a == "--rate") {
      if (!parse_double(v, o.rate) || o.rate <= 0) return "--rate: messages/s > 0";
    } else if (a == "--ramp") {
      if (!parse_double(v, o.ramp_s) || o.ramp_s < 0) return "--ramp: seconds >= 0";
    } else if (a == "--threads") {
      if (!parse_int(v, o.threads) || o.threads < 1 || o.threads > 64) return "--threads: 1..64";
    } else if (a == "--origin") {
      o.origin = std::string(v);
    } else {
      return std::string("unknown option: ") + std::string(a);
    }
  }
  if (o.url.empty() || !parse_url(o)) return "--url ws://HOST:PORT/PATH is required";
  if (o.connections == 0) return "--connections is required";
  if (o.duration_s == 0) return "--duration is required";
  if (!o.idle && o.messages_path.empty()) return "--messages is required (unless --idle)";
  if (o.idle && o.rate > 0) return "--rate and --idle exclude each other";
  if (o.ramp_s < 0) o.ramp_s = std::min(5.0, o.duration_s / 4);
  if (o.ramp_s >= o.duration_s) return "--ramp must be shorter than --duration";
  return {};
}

// Each line as a JSON string literal (quoted and escaped), ready to splice
// into a frame.
std::vector<std::string> load_messages(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot open " + path;
    return {};
  }
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    out.push_back(json::serialize(json::string(line)));
  }
  if (out.empty()) error = path + ": no messages";
  return out;
}

// ---------------------------------------------------------------------------
// Statistics

// Log-linear histogram of microseconds, HDR-style: exact below 128 µs, then
// 64 buckets per power of two (at most 1.6 % above the true value).
class latency_histogram {
 public:
  void record(std::uint64_t us) {
    ++buckets_[index(us)];
    ++count_;
    sum_ += us;
    max_ = std::max(max_, us);
  }

  void merge(const latency_histogram& o) {
    for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
  }

  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(count_); }

  // The upper bound of the bucket holding the q-quantile (0 < q <= 1), in µs.
  std::uint64_t quantile(double q) const {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= rank) return std::min(upper_bound(i), max_);
    }
    return max_;
  }

 private:
  static constexpr unsigned k_sub_bits = 6;                   // 64 per power of two
  static constexpr std::uint64_t k_clamp = (1ULL << 40) - 1;  // ~12 days in µs

  static std::size_t index(std::uint64_t v) {
    v = std::min(v, k_clamp);
    auto width = static_cast<unsigned>(std::bit_width(v));
    if (width <= k_sub_bits + 1) return static_cast<std::size_t>(v);
    unsigned shift = width - (k_sub_bits + 1);
    return (static_cast<std::size_t>(shift) << k_sub_bits) + static_cast<std::size_t>(v >> shift);
  }

  static std::uint64_t upper_bound(std::size_t i) {
    if (i < (2U << k_sub_bits)) return i;
    auto shift = static_cast<unsigned>((i >> k_sub_bits) - 1);
    std::uint64_t low = static_cast<std::uint64_t>(i - (static_cast<std::size_t>(shift) << k_sub_bits)) << shift;
    return low + (1ULL << shift) - 1;
  }

  std::array<std::uint64_t, (40 - k_sub_bits) * (1U << k_sub_bits) + (2U << k_sub_bits)> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

struct stats {
  std::uint64_t opened = 0;      // connections whose first hello got a welcome
  std::uint64_t failed = 0;      // connections that never got one
  std::uint64_t open_at_end = 0;
  std::uint64_t reconnects = 0;  // successful resumes after a drop
  std::uint64_t reconnect_failures = 0;
  std::uint64_t not_resumed = 0;  // a resume answered with a new conversation
  std::uint64_t sent = 0;         // message frames written (resends included)
  std::uint64_t resent = 0;
  std::uint64_t acks = 0;
  std::uint64_t duplicate_acks = 0;
  std::uint64_t replies = 0;
  std::uint64_t replies_in_window = 0;
  std::uint64_t handoffs = 0;
  std::uint64_t errors = 0;      // messages completed by an error frame
  std::uint64_t unfinished = 0;  // messages still in flight at the end
  std::uint64_t bad_frames = 0;  // not JSON, or an unknown type
  std::map<std::string, std::uint64_t> errors_by_code;   // every error frame
  std::map<std::string, std::uint64_t> disconnects;      // drops, by close code or error
  std::map<std::string, std::uint64_t> connect_errors;   // failed opens, by step and error
  latency_histogram latency;

  void merge(const stats& o) {
    opened += o.opened;
    failed += o.failed;
    open_at_end += o.open_at_end;
    reconnects += o.reconnects;
    reconnect_failures += o.reconnect_failures;
    not_resumed += o.not_resumed;
    sent += o.sent;
    resent += o.resent;
    acks += o.acks;
    duplicate_acks += o.duplicate_acks;
    replies += o.replies;
    replies_in_window += o.replies_in_window;
    handoffs += o.handoffs;
    errors += o.errors;
    unfinished += o.unfinished;
    bad_frames += o.bad_frames;
    for (const auto& [k, v] : o.errors_by_code) errors_by_code[k] += v;
    for (const auto& [k, v] : o.disconnects) disconnects[k] += v;
    for (const auto& [k, v] : o.connect_errors) connect_errors[k] += v;
    latency.merge(o.latency);
  }
};

// ---------------------------------------------------------------------------
// Run-wide settings, read-only once the workers start.

struct run_plan {
  options opt;
  std::vector<std::string> messages;  // JSON string literals
  tcp::endpoint endpoint;
  std::string host_header;
  clock_type::time_point start;
  clock_type::time_point ramp_end;  // the measured window is [ramp_end, end]
  clock_type::time_point end;
  clock_type::duration send_interval{};  // per connection, open loop only
};

std::atomic<std::int64_t> g_open{0};
std::atomic<std::uint64_t> g_replies{0};

struct worker;

// One visitor: its socket (replaced on reconnect), its conversation and its
// message in flight. Touched only by its worker's thread.
struct connection {
  connection(worker& owner, int number, std::size_t first_line);

  worker& w;
  int id;
  std::optional<websocket::stream<beast::tcp_stream>> ws;
  beast::flat_buffer buffer;
  // Wakes the writer (state changed) and serves the ramp and backoff waits.
  asio::steady_timer wake;
  bool connected = false;
  bool stopping = false;

  // Conversation.
  std::string token;
  std::int64_t last_seq = 0;
  std::int64_t last_bot_seq = 0;
  std::string state = "bot";
  bool send_close = false;  // a handoff: send {"type":"close"}

  // The message in flight.
  bool pending = false;
  bool acked = false;
  bool resend = false;
  std::int64_t ack_seq = 0;
  std::string pending_id;
  std::size_t pending_line = 0;
  clock_type::time_point pending_start;

  std::uint64_t next_number = 0;
  std::size_t next_line;
  clock_type::time_point next_send;  // open loop schedule
};

struct worker {
  worker(const run_plan& p) : plan(p) {}

  const run_plan& plan;
  asio::io_context ioc{1};
  stats st;
  // Declared after ioc: destroyed first, while their executor still exists.
  std::vector<std::unique_ptr<connection>> conns;
};

connection::connection(worker& owner, int number, std::size_t first_line)
    : w(owner), id(number), wake(owner.ioc), next_line(first_line) {}

// ---------------------------------------------------------------------------
// Frames

std::int64_t to_int64(const json::value* v) {
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  return 0;
}

std::string_view to_string(const json::value* v) {
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}

std::string hello_frame(const connection& c) {
  if (c.token.empty()) return R"({"type":"hello"})";
  json::object o;
  o["type"] = "hello";
  o["token"] = c.token;
  o["last_seq"] = c.last_seq;
  return json::serialize(o);
}

std::string message_frame(const connection& c) {
  std::string f = R"({"type":"message","client_msg_id":")";
  f += c.pending_id;
  f += R"(","text":)";
  f += c.w.plan.messages[c.pending_line];
  f += '}';
  return f;
}

bool is_handoff_state(std::string_view s) { return s == "queued" || s == "agent" || s == "ticket"; }

enum class outcome { reply, error, handoff };

void complete(connection& c, outcome how) {
  auto now = clock_type::now();
  const run_plan& p = c.w.plan;
  stats& st = c.w.st;
  c.pending = false;
  c.resend = false;
  if (how == outcome::reply) {
    ++st.replies;
    g_replies.fetch_add(1, std::memory_order_relaxed);
    bool in_window = now >= p.ramp_end && now <= p.end;
    if (in_window) ++st.replies_in_window;
    if (in_window && c.pending_start >= p.ramp_end) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - c.pending_start).count();
      st.latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(us, 0)));
    }
  } else if (how == outcome::error) {
    ++st.errors;
  }
  c.wake.cancel();
}

void on_state(connection& c, std::string_view state) {
  if (state.empty() || state == c.state) return;
  c.state = std::string(state);
  if (!is_handoff_state(state)) return;
  ++c.w.st.handoffs;
  c.send_close = true;
  if (c.pending && c.acked) complete(c, outcome::handoff);
  c.wake.cancel();
}

// One frame from the server, after the welcome.
void on_frame(connection& c, std::string_view text) {
  stats& st = c.w.st;
  // Frames are small; a stack buffer usually holds the whole parse.
  std::array<unsigned char, 4096> storage;
  json::monotonic_resource mr(storage.data(), storage.size());
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, &mr);
  if (ec || !v.is_object()) {
    ++st.bad_frames;
    return;
  }
  const json::object& o = v.get_object();
  std::string_view type = to_string(o.if_contains("type"));
  if (type == "message") {
    std::int64_t seq = to_int64(o.if_contains("seq"));
    c.last_seq = std::max(c.last_seq, seq);
    if (to_string(o.if_contains("from")) != "bot") return;
    c.last_bot_seq = std::max(c.last_bot_seq, seq);
    if (c.pending && c.acked && seq > c.ack_seq) complete(c, outcome::reply);
  } else if (type == "ack") {
    std::int64_t seq = to_int64(o.if_contains("seq"));
    c.last_seq = std::max(c.last_seq, seq);
    if (!c.pending || to_string(o.if_contains("client_msg_id")) != c.pending_id) return;
    ++st.acks;
    if (const json::value* d = o.if_contains("duplicate"); d != nullptr && d->is_bool() && d->get_bool()) {
      ++st.duplicate_acks;
    }
    c.acked = true;
    c.ack_seq = seq;
    // After a resume the reply may have been replayed before this ack.
    if (c.last_bot_seq > seq) complete(c, outcome::reply);
  } else if (type == "state") {
    on_state(c, to_string(o.if_contains("state")));
  } else if (type == "error") {
    std::string_view code = to_string(o.if_contains("code"));
    ++st.errors_by_code[code.empty() ? std::string("(none)") : std::string(code)];
    const json::value* id = o.if_contains("client_msg_id");
    if (!c.pending) return;
    // An error without an id can only answer a message not yet acked.
    if ((id != nullptr && to_string(id) == c.pending_id) || (id == nullptr && !c.acked)) {
      complete(c, outcome::error);
    }
  } else if (type == "typing" || type == "resync" || type == "welcome") {
    // resync: the latest messages follow as `message` frames.
  } else {
    ++st.bad_frames;
  }
}

// ---------------------------------------------------------------------------
// Connection coroutines

// A short key for the statistics: close_<code> for a WebSocket close.
std::string reason_of(const connection& c, const boost::system::error_code& ec) {
  if (ec == websocket::error::closed && c.ws) return "close_" + std::to_string(c.ws->reason().code);
  if (ec == asio::error::eof || ec == beast::http::error::end_of_stream) return "eof";
  if (ec == asio::error::connection_reset) return "reset";
  if (ec == asio::error::connection_refused) return "refused";
  if (ec == beast::error::timeout) return "timeout";
  return ec.message();
}

// Connects, handshakes, says hello and reads the welcome. On failure records
// why (unless stopping) and returns false.
asio::awaitable<bool> open(connection& c, bool first) {
  stats& st = c.w.st;
  const run_plan& p = c.w.plan;
  auto fail = [&](std::string_view step, const boost::system::error_code& ec) {
    if (!c.stopping) ++st.connect_errors[std::string(step) + ": " + reason_of(c, ec)];
    c.ws.reset();
    return false;
  };
  c.buffer.clear();
  c.ws.emplace(c.w.ioc.get_executor());
  auto& stream = beast::get_lowest_layer(*c.ws);
  stream.expires_after(k_connect_timeout);
  if (auto [ec] = co_await stream.async_connect(p.endpoint, use_nothrow); ec) co_return fail("connect", ec);
  stream.expires_never();  // the websocket stream has its own timeouts
  stream.socket().set_option(tcp::no_delay(true));

  websocket::stream_base::timeout t{};
  t.handshake_timeout = k_handshake_timeout;
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  c.ws->set_option(t);
  c.ws->set_option(websocket::stream_base::decorator(
      [origin = p.opt.origin](websocket::request_type& req) { req.set(beast::http::field::origin, origin); }));
  c.ws->read_message_max(k_read_message_max);
  c.ws->auto_fragment(false);
  c.ws->text(true);
  if (auto [ec] = co_await c.ws->async_handshake(p.host_header, p.opt.target, use_nothrow); ec) {
    co_return fail("handshake", ec);
  }
  if (auto [ec, n] = co_await c.ws->async_write(asio::buffer(hello_frame(c)), use_nothrow); ec) {
    co_return fail("hello", ec);
  }
  auto [ec, n] = co_await c.ws->async_read(c.buffer, use_nothrow);
  if (ec) co_return fail("welcome", ec);
  std::string frame = beast::buffers_to_string(c.buffer.data());
  c.buffer.consume(n);

  boost::system::error_code jec;
  json::value v = json::parse(frame, jec);
  const json::object* o = !jec && v.is_object() ? &v.get_object() : nullptr;
  std::string_view type = o != nullptr ? to_string(o->if_contains("type")) : std::string_view{};
  if (type != "welcome") {
    std::string what = type == "error" ? "error " + std::string(to_string(o->if_contains("code"))) : "not a welcome";
    if (!c.stopping) ++st.connect_errors["welcome: " + what];
    c.ws.reset();
    co_return false;
  }
  const json::value* resumed = o->if_contains("resumed");
  bool was_resumed = resumed != nullptr && resumed->is_bool() && resumed->get_bool();
  if (!first && !was_resumed) {
    // The server did not know the token: a new conversation. Whatever was in
    // flight belongs to the old one; send it again in the new one.
    ++st.not_resumed;
    c.last_bot_seq = 0;
    c.acked = false;
  }
  if (first || !was_resumed) {
    c.last_seq = to_int64(o->if_contains("last_seq"));
    c.state = "bot";
  }
  c.token = std::string(to_string(o->if_contains("token")));
  on_state(c, to_string(o->if_contains("state")));
  if (c.pending && !c.acked) c.resend = true;
  co_return true;
}

asio::awaitable<void> read_loop(connection& c) {
  for (;;) {
    auto [ec, n] = co_await c.ws->async_read(c.buffer, use_nothrow);
    if (ec) {
      if (!c.stopping) ++c.w.st.disconnects[reason_of(c, ec)];
      c.connected = false;
      c.wake.cancel();
      co_return;
    }
    auto data = c.buffer.cdata();
    on_frame(c, std::string_view(static_cast<const char*>(data.data()), data.size()));
    c.buffer.consume(n);
    if (c.buffer.capacity() > 16 * 1024) c.buffer.shrink_to_fit();  // after a rare large frame
  }
}

// Waits on the wake timer until `until` or until the reader (or the stop)
// cancels it.
asio::awaitable<void> sleep_until(connection& c, clock_type::time_point until) {
  c.wake.expires_at(until);
  co_await c.wake.async_wait(use_nothrow);
}

// The only writer of the stream: hello is done; sends close frames, resends
// and new messages, and the WebSocket close at the end.
asio::awaitable<void> write_loop(connection& c) {
  const run_plan& p = c.w.plan;
  stats& st = c.w.st;
  auto write = [&](std::string frame) -> asio::awaitable<bool> {
    auto [ec, n] = co_await c.ws->async_write(asio::buffer(frame), use_nothrow);
    if (ec) {
      // Let the reader see the failure and record it.
      boost::system::error_code ignored;
      beast::get_lowest_layer(*c.ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return false;
    }
    co_return true;
  };
  for (;;) {
    if (!c.connected) co_return;
    if (c.stopping) {
      co_await c.ws->async_close(websocket::close_code::normal, use_nothrow);
      co_return;
    }
    if (c.send_close) {
      c.send_close = false;
      if (!co_await write(R"({"type":"close"})")) co_return;
      continue;
    }
    if (c.pending && c.resend) {
      c.resend = false;
      ++st.resent;
      ++st.sent;
      if (!co_await write(message_frame(c))) co_return;
      continue;
    }
    auto now = clock_type::now();
    if (!p.opt.idle && !c.pending && now < p.end) {
      if (p.opt.rate > 0 && now < c.next_send) {
        co_await sleep_until(c, c.next_send);
        continue;
      }
      c.pending = true;
      c.acked = false;
      c.ack_seq = 0;
      c.pending_id = "c-" + std::to_string(c.id) + "-" + std::to_string(c.next_number++);
      c.pending_line = c.next_line++ % p.messages.size();
      if (p.opt.rate > 0) {
        c.pending_start = c.next_send;
        c.next_send += p.send_interval;
      } else {
        c.pending_start = now;
      }
      ++st.sent;
      if (!co_await write(message_frame(c))) co_return;
      continue;
    }
    co_await sleep_until(c, clock_type::time_point::max());
  }
}

asio::awaitable<void> run_connection(connection& c, clock_type::time_point start) {
  stats& st = c.w.st;
  co_await sleep_until(c, start);
  c.next_send = std::max(start, clock_type::now());
  bool first = true;
  auto backoff = k_backoff_min;
  while (!c.stopping) {
    if (!co_await open(c, first)) {
      if (c.stopping) break;
      if (first) {
        ++st.failed;
        co_return;
      }
      ++st.reconnect_failures;
      co_await sleep_until(c, clock_type::now() + backoff);
      backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(k_backoff_max));
      continue;
    }
    backoff = k_backoff_min;
    ++(first ? st.opened : st.reconnects);
    first = false;
    c.connected = true;
    g_open.fetch_add(1, std::memory_order_relaxed);
    co_await (read_loop(c) && write_loop(c));
    g_open.fetch_sub(1, std::memory_order_relaxed);
    c.connected = false;
    c.ws.reset();
    c.buffer.clear();
    c.buffer.shrink_to_fit();
  }
}

// At the end: count what is open and in flight, then let every connection
// close (writers send the WebSocket close; openers in progress are cut).
asio::awaitable<void> stop_at_end(worker& w) {
  asio::steady_timer t(w.ioc);
  t.expires_at(w.plan.end);
  co_await t.async_wait(use_nothrow);
  for (auto& c : w.conns) {
    if (c->connected) ++w.st.open_at_end;
    if (c->pending) ++w.st.unfinished;
    c->stopping = true;
    c->wake.cancel();
    if (!c->connected && c->ws) {
      boost::system::error_code ignored;
      beast::get_lowest_layer(*c->ws).socket().close(ignored);
    }
  }
}

// ---------------------------------------------------------------------------
// Report

double ms(std::uint64_t us) { return static_cast<double>(us) / 1000.0; }

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

json::object to_json(const std::map<std::string, std::uint64_t>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

void report(const run_plan& p, const stats& s, double cpu_s, bool as_json) {
  const options& o = p.opt;
  const char* mode = o.idle ? "idle" : o.rate > 0 ? "open_loop" : "closed_loop";
  double window_s = std::chrono::duration<double>(p.end - p.ramp_end).count();
  double throughput = static_cast<double>(s.replies_in_window) / window_s;
  const latency_histogram& h = s.latency;
  if (as_json) {
    json::object r;
    r["mode"] = mode;
    r["url"] = o.url;
    r["connections"] = o.connections;
    r["threads"] = o.threads;
    r["duration_s"] = o.duration_s;
    r["ramp_s"] = o.ramp_s;
    if (o.rate > 0) r["rate"] = o.rate;
    r["connections_opened"] = s.opened;
    r["connections_failed"] = s.failed;
    r["open_at_end"] = s.open_at_end;
    r["reconnects"] = s.reconnects;
    r["reconnect_failures"] = s.reconnect_failures;
    r["not_resumed"] = s.not_resumed;
    r["messages_sent"] = s.sent;
    r["resent"] = s.resent;
    r["acks"] = s.acks;
    r["duplicate_acks"] = s.duplicate_acks;
    r["replies"] = s.replies;
    r["handoffs"] = s.handoffs;
    r["errors"] = s.errors;
    r["unfinished"] = s.unfinished;
    r["bad_frames"] = s.bad_frames;
    r["window_s"] = window_s;
    r["replies_in_window"] = s.replies_in_window;
    r["throughput_replies_per_s"] = std::round(throughput * 10) / 10;
    json::object lat;
    lat["count"] = h.count();
    lat["mean"] = h.mean() / 1000.0;
    lat["p50"] = ms(h.quantile(0.50));
    lat["p90"] = ms(h.quantile(0.90));
    lat["p99"] = ms(h.quantile(0.99));
    lat["p999"] = ms(h.quantile(0.999));
    lat["max"] = ms(h.max());
    r["latency_ms"] = std::move(lat);
    r["errors_by_code"] = to_json(s.errors_by_code);
    r["disconnects"] = to_json(s.disconnects);
    r["connect_errors"] = to_json(s.connect_errors);
    r["client_cpu_s"] = std::round(cpu_s * 100) / 100;
    std::cout << json::serialize(r) << '\n';
    return;
  }
  std::printf("loadgen %s: %s, %d connections, %d thread(s), %.1f s (ramp %.1f s)", mode, o.url.c_str(),
              o.connections, o.threads, o.duration_s, o.ramp_s);
  if (o.rate > 0) std::printf(", %.0f msg/s", o.rate);
  std::printf("\n");
  std::printf("connections  opened %llu  failed %llu  open at end %llu  reconnects %llu (failed %llu, not resumed %llu)\n",
              static_cast<unsigned long long>(s.opened), static_cast<unsigned long long>(s.failed),
              static_cast<unsigned long long>(s.open_at_end), static_cast<unsigned long long>(s.reconnects),
              static_cast<unsigned long long>(s.reconnect_failures), static_cast<unsigned long long>(s.not_resumed));
  if (!o.idle) {
    std::printf("messages     sent %llu (resent %llu)  acks %llu (duplicate %llu)  replies %llu  handoffs %llu  "
                "errors %llu  unfinished %llu\n",
                static_cast<unsigned long long>(s.sent), static_cast<unsigned long long>(s.resent),
                static_cast<unsigned long long>(s.acks), static_cast<unsigned long long>(s.duplicate_acks),
                static_cast<unsigned long long>(s.replies), static_cast<unsigned long long>(s.handoffs),
                static_cast<unsigned long long>(s.errors), static_cast<unsigned long long>(s.unfinished));
    std::printf("throughput   %.0f replies/s over %.1f s (after the ramp)\n", throughput, window_s);
    std::printf("latency ms   p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f  (%llu samples%s)\n",
                ms(h.quantile(0.5)), ms(h.quantile(0.9)), ms(h.quantile(0.99)), ms(h.quantile(0.999)), ms(h.max()),
                h.mean() / 1000.0, static_cast<unsigned long long>(h.count()),
                o.rate > 0 ? ", from the intended send time" : "");
  }
  auto print_map = [](const char* title, const std::map<std::string, std::uint64_t>& m) {
    if (m.empty()) return;
    std::printf("%-12s", title);
    for (const auto& [k, v] : m) std::printf(" %s: %llu;", k.c_str(), static_cast<unsigned long long>(v));
    std::printf("\n");
  };
  print_map("errors", s.errors_by_code);
  print_map("disconnects", s.disconnects);
  print_map("connect errs", s.connect_errors);
  if (s.bad_frames > 0) std::printf("bad frames   %llu\n", static_cast<unsigned long long>(s.bad_frames));
  std::printf("client cpu   %.2f s\n", cpu_s);
}

// 10,000 connections need about as many descriptors.
void raise_fd_limit(int connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < static_cast<rlim_t>(connections) + 64) {
    std::cerr << "loadgen: warning: the descriptor limit (" << rl.rlim_cur << ") is below " << connections + 64
              << "; raise the hard limit (ulimit -Hn)\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  run_plan plan;
  if (std::string err = parse_options(argc, argv, plan.opt); !err.empty()) {
    if (err == "help") {
      print_usage(std::cout);
      return 0;
    }
    std::cerr << "loadgen: " << err << "\n";
    print_usage(std::cerr);
    return 2;
  }
  const options& o = plan.opt;
  if (!o.idle) {
    std::string err;
    plan.messages = load_messages(o.messages_path, err);
    if (!err.empty()) {
      std::cerr << "loadgen: " << err << "\n";
      return 2;
    }
  }
  raise_fd_limit(o.connections);

  try {
    asio::io_context resolver_ctx;
    tcp::resolver resolver(resolver_ctx);
    auto results = resolver.resolve(o.host, o.port);
    plan.endpoint = results.begin()->endpoint();
  } catch (const std::exception& e) {
    std::cerr << "loadgen: cannot resolve " << o.host << ":" << o.port << ": " << e.what() << "\n";
    return 2;
  }
  plan.host_header = o.host + ":" + o.port;

  auto seconds = [](double s) {
    return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
  };
  plan.start = clock_type::now() + 100ms;
  plan.ramp_end = plan.start + seconds(o.ramp_s);
  plan.end = plan.start + seconds(o.duration_s);
  if (o.rate > 0) plan.send_interval = seconds(static_cast<double>(o.connections) / o.rate);

  std::vector<std::unique_ptr<worker>> workers;
  for (int t = 0; t < o.threads; ++t) workers.push_back(std::make_unique<worker>(plan));
  std::size_t lines = std::max<std::size_t>(plan.messages.size(), 1);
  for (int i = 0; i < o.connections; ++i) {
    worker& w = *workers[static_cast<std::size_t>(i % o.threads)];
    // Offsets spread over the file so that connections do not move in step.
    std::size_t first_line = static_cast<std::size_t>(i) * 7919 % lines;
    w.conns.push_back(std::make_unique<connection>(w, i, first_line));
    auto start = plan.start + seconds(o.ramp_s * i / o.connections);
    asio::co_spawn(w.ioc, run_connection(*w.conns.back(), start), asio::detached);
  }
  for (auto& w : workers) asio::co_spawn(w->ioc, stop_at_end(*w), asio::detached);

  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&ioc = w->ioc] { ioc.run(); });

  // Progress on stderr every 5 s (stdout stays one report).
  std::thread progress([&] {
    auto next = plan.start;
    std::uint64_t last_replies = 0;
    while (next + 5s <= plan.end) {
      next += 5s;
      std::this_thread::sleep_until(next);
      std::uint64_t r = g_replies.load(std::memory_order_relaxed);
      std::cerr << "loadgen: t=" << std::chrono::duration_cast<std::chrono::seconds>(next - plan.start).count()
                << "s open=" << g_open.load(std::memory_order_relaxed) << " replies/s=" << (r - last_replies) / 5
                << "\n";
      last_replies = r;
    }
  });
  progress.join();
  for (auto& t : threads) t.join();

  stats total;
  for (auto& w : workers) total.merge(w->st);
  report(plan, total, cpu_seconds(), o.json);
  return total.opened > 0 ? 0 : 1;
}
