// ws_floor: the cost floor under the chat server, for docs/performance.md.
//
//   ws_floor [--store PATH | --sqlite-log PATH [--index]] [--threads N]
//
// A minimal WebSocket server that speaks just enough of the visitor protocol
// (DESIGN §7) for loadgen: `hello` gets a `welcome`, each `message` gets an
// `ack` and a bot `message` of the size the real server sends (a shipped KB
// answer with its source, 450 bytes). It routes nothing. Without --store it
// answers at once: the floor of the transport (TCP over loopback, WebSocket
// framing, Asio, JSON parse, and loadgen itself on the same cores). With
// --store PATH each message is first committed as the real server commits
// it: a turn of the real store (bot::store, SQLite in WAL mode,
// synchronous=full, group commit) with the visitor's message, the reply and
// the dialog context, and the ack and reply follow the commit. The chat
// server's figures minus these give what routing and the conversation logic
// cost.
//
// --sqlite-log PATH is the least any SQLite store can do for the same
// guarantee (acked after a COMMIT that reached the disk): the two messages
// of a turn appended to one table with no index, on one writer thread with
// group commit (WAL, synchronous=FULL, checkpoints as the store does them:
// PASSIVE on their own thread from 4,000 WAL frames, then the writer
// catches up). It keeps no context and cannot find a conversation's messages or
// a repeated client_msg_id without reading the whole table; --index adds
// the one index that finding a conversation's messages needs
// (conversation_id, seq).
//
// Prints {"event":"listening","port":N} on stderr, like `supportbot serve`,
// so tests/bench/chat_bench.sh drives either (FLOOR=transport|store).
// Listens on 127.0.0.1, port 0. Stops on SIGINT or SIGTERM.
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bot/core/clock.hpp"
#include "bot/core/ids.hpp"
#include "bot/core/log.hpp"
#include "bot/store/sqlite.hpp"
#include "bot/store/store.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using asio::ip::tcp;
using namespace bot;

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// A shipped KB answer as the real server stores and sends it.
constexpr std::string_view k_reply_text =
    "Yes. Orders to **Alaska and Hawaii** go by standard delivery only and usually arrive **5-9 "
    "business days** after they ship. Free shipping on orders over $75 applies there too.\n\nA "
    "few bulky items can't be sent to Alaska or Hawaii; their product pages say so. Express "
    "delivery isn't available to these states.";
constexpr std::string_view k_reply_meta =
    R"({"source":{"kind":"kb","id":"alaska-hawaii-shipping","title":"Can you deliver orders to )"
    R"(Alaska and Hawaii?","confidence":0.7303},"decision":"answer"})";

// The store's completion, on the store's writer thread, resumes the
// coroutine on its connection's strand. The request travels in a shared_ptr
// captured by the initiation, not as an initiation argument: GCC 12
// mishandles class-type arguments passed by value into coroutines (which
// use_awaitable's initiate is).
template <typename T, typename Request, typename Call>
auto async_store_call(std::shared_ptr<Request> request, Call call) {
  return asio::async_initiate<decltype(use_nothrow), void(core::result<T>)>(
      [request, call](auto handler) {
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        call(std::move(*request), [h, ex](core::result<T> r) {
          asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
        });
      },
      use_nothrow);
}

// The seqs a turn got.
struct turn_seqs {
  std::int64_t visitor = 0;
  std::int64_t reply = 0;
};
using turn_done = std::function<void(core::result<turn_seqs>)>;

// --sqlite-log: turns appended to one table by one writer thread, committed
// in groups; a turn's completion runs after its batch's COMMIT.
class sqlite_log {
 public:
  struct request {
    std::shared_ptr<store::new_turn> turn;
    std::int64_t first_seq = 0;
    turn_done done;
  };

  static core::result<std::unique_ptr<sqlite_log>> open(const std::string& path, bool index) {
    auto opened = store::sqlite::db::open(path, store::sqlite::open_mode::read_write_create);
    if (!opened) return opened.error();
    auto log = std::unique_ptr<sqlite_log>(new sqlite_log(std::move(opened).value()));
    for (const char* sql : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                            "PRAGMA cache_size = -16384", "PRAGMA wal_autocheckpoint = 0",
                            "CREATE TABLE IF NOT EXISTS turns (id INTEGER PRIMARY KEY, "
                            "conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, "
                            "client_msg_id TEXT, sender TEXT NOT NULL, text TEXT NOT NULL, "
                            "meta_json TEXT, ts_ms INTEGER NOT NULL)"}) {
      if (auto st = log->db_.exec(sql); !st.ok()) return st;
    }
    if (index) {
      if (auto st = log->db_.exec(
              "CREATE UNIQUE INDEX IF NOT EXISTS turns_seq ON turns (conversation_id, seq)");
          !st.ok()) {
        return st;
      }
    }
    // Checkpoints as the store does them: PASSIVE on a thread and connection
    // of their own from 4,000 WAL frames, then the writer catches up.
    auto ckpt = store::sqlite::db::open(path, store::sqlite::open_mode::read_write);
    if (!ckpt) return ckpt.error();
    log->ckpt_db_ = std::make_unique<store::sqlite::db>(std::move(ckpt).value());
    if (auto st = log->ckpt_db_->exec("PRAGMA synchronous = FULL"); !st.ok()) return st;
    log->db_.set_wal_hook([l = log.get()](int frames) {
      if (frames < 4000) return;
      {
        std::lock_guard lk(l->ckpt_mu_);
        l->ckpt_requested_ = true;
      }
      l->ckpt_cv_.notify_one();
    });
    log->ckpt_thread_ = std::thread([l = log.get()] { l->checkpoint_loop(); });
    log->thread_ = std::thread([l = log.get()] { l->run(); });
    return log;
  }

  ~sqlite_log() {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    {
      std::lock_guard lk(ckpt_mu_);
      ckpt_stopping_ = true;
    }
    ckpt_cv_.notify_one();
    if (ckpt_thread_.joinable()) ckpt_thread_.join();
  }

  void submit(request r) {
    {
      std::lock_guard lk(mu_);
      queue_.push_back(std::move(r));
    }
    cv_.notify_one();
  }

 private:
  explicit sqlite_log(store::sqlite::db d) : db_(std::move(d)) {}

  void run() {
    std::vector<request> batch;
    for (;;) {
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        while (!queue_.empty() && batch.size() < 1024) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      core::status st = write(batch);
      for (auto& r : batch) {
        if (st.ok()) {
          r.done(turn_seqs{r.first_seq, r.first_seq + 1});
        } else {
          r.done(st);
        }
      }
      batch.clear();
      if (catch_up_.exchange(false)) (void)db_.checkpoint(store::sqlite::checkpoint_mode::passive);
    }
  }

  void checkpoint_loop() {
    for (;;) {
      {
        std::unique_lock lk(ckpt_mu_);
        ckpt_cv_.wait(lk, [&] { return ckpt_stopping_ || ckpt_requested_; });
        if (ckpt_stopping_) return;
        ckpt_requested_ = false;
      }
      (void)ckpt_db_->checkpoint(store::sqlite::checkpoint_mode::passive);
      catch_up_.store(true);
    }
  }

  core::status write(const std::vector<request>& batch) {
    auto tx = store::sqlite::transaction::begin(db_);
    if (!tx) return tx.error();
    for (const auto& r : batch) {
      std::int64_t seq = r.first_seq;
      const store::new_message& v = *r.turn->visitor;
      const store::new_message& reply = r.turn->replies.at(0);
      for (const store::new_message* m : {&v, &reply}) {
        auto s = db_.cached(
            "INSERT INTO turns (conversation_id, seq, client_msg_id, sender, text, meta_json, "
            "ts_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (!s) return s.error();
        store::sqlite::statement& ins = **s;
        core::status st = ins.bind_ref(1, m->conversation_id);
        if (st.ok()) st = ins.bind(2, seq++);
        if (st.ok()) st = ins.bind_text_or_null(3, m->client_msg_id);
        if (st.ok()) st = ins.bind(4, std::string_view(store::sender_name(m->from)));
        if (st.ok()) st = ins.bind_ref(5, m->text);
        if (st.ok()) st = ins.bind_text_or_null(6, m->meta_json);
        if (st.ok()) st = ins.bind(7, r.turn->ts_ms);
        if (st.ok()) st = ins.run();
        if (!st.ok()) return st;
      }
    }
    return tx->commit();
  }

  store::sqlite::db db_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<request> queue_;
  bool stopping_ = false;
  std::thread thread_;
  std::unique_ptr<store::sqlite::db> ckpt_db_;
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_requested_ = false;
  bool ckpt_stopping_ = false;
  std::atomic<bool> catch_up_{false};
  std::thread ckpt_thread_;
};

std::string_view str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

// Where turns go: nowhere (both null), the real store, or the SQLite log.
struct sinks {
  store::store* st = nullptr;
  sqlite_log* log = nullptr;
};

asio::awaitable<void> session(tcp::socket socket, sinks to) {
  store::store* st = to.st;
  socket.set_option(tcp::no_delay(true));  // as the real server: no Nagle wait
  websocket::stream<tcp::socket> ws(std::move(socket));
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.text(true);
  if (auto [ec] = co_await ws.async_accept(use_nothrow); ec) co_return;
  beast::flat_buffer buffer;
  std::string conversation_id;
  std::int64_t seq = 0;
  std::string out;
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buffer, use_nothrow);
    if (ec) co_return;
    boost::system::error_code jec;
    json::value v = json::parse(beast::buffers_to_string(buffer.data()), jec);
    buffer.consume(n);
    if (jec || !v.is_object()) co_return;
    const json::object& o = v.get_object();
    const std::string_view type = str(o, "type");
    if (type == "hello") {
      conversation_id = core::new_conversation_id();
      if (st != nullptr) {
        auto c = std::make_shared<store::new_conversation>();
        c->id = conversation_id;
        c->token_hash = core::random_hex(32);
        auto [created] = co_await async_store_call<store::conversation_row>(
            c, [st](store::new_conversation conv, auto done) {
              st->create_conversation(std::move(conv), std::move(done));
            });
        if (!created) co_return;
      }
      out = R"({"type":"welcome","conversation_id":")" + conversation_id +
            R"(","token":"t","resumed":false,"last_seq":0,"state":"bot"})";
      if (auto [wec, wn] = co_await ws.async_write(asio::buffer(out), use_nothrow); wec) co_return;
      continue;
    }
    if (type != "message") continue;
    const std::string client_msg_id(str(o, "client_msg_id"));
    std::int64_t visitor_seq = seq + 1;
    std::int64_t reply_seq = seq + 2;
    if (st != nullptr || to.log != nullptr) {
      auto turn = std::make_shared<store::new_turn>();
      store::new_turn& t = *turn;
      t.visitor.emplace();
      t.visitor->conversation_id = conversation_id;
      t.visitor->client_msg_id = client_msg_id;
      t.visitor->from = store::sender::visitor;
      t.visitor->text = std::string(str(o, "text"));
      t.replies.emplace_back();
      t.replies.back().conversation_id = conversation_id;
      t.replies.back().from = store::sender::bot;
      t.replies.back().text = std::string(k_reply_text);
      t.replies.back().meta_json = std::string(k_reply_meta);
      t.context_json = R"({"context":{},"slots":{},"fallbacks_in_row":0,"turns":)" +
                       std::to_string(seq / 2 + 1) + "}";
      t.ts_ms = core::system_clock::instance().now_ms();
      if (st != nullptr) {
        auto [appended] = co_await async_store_call<store::turn_appended>(
            turn, [st](store::new_turn nt, auto done) {
              st->append_turn(std::move(nt), std::move(done));
            });
        if (!appended) co_return;
        visitor_seq = appended->visitor.seq;
        reply_seq = appended->replies.at(0).seq;
      } else {
        auto [appended] = co_await async_store_call<turn_seqs>(turn, [log = to.log,
                                                                      first = visitor_seq](
                                                                         store::new_turn nt,
                                                                         auto done) {
          log->submit({std::make_shared<store::new_turn>(std::move(nt)), first, std::move(done)});
        });
        if (!appended) co_return;
      }
    }
    seq = reply_seq;
    out = R"({"type":"ack","client_msg_id":)" + json::serialize(json::string(client_msg_id)) +
          R"(,"seq":)" + std::to_string(visitor_seq) + "}";
    if (auto [wec, wn] = co_await ws.async_write(asio::buffer(out), use_nothrow); wec) co_return;
    out = R"({"type":"message","seq":)" + std::to_string(reply_seq) + R"(,"from":"bot","text":)" +
          json::serialize(json::string(k_reply_text)) +
          R"(,"source":{"kind":"kb","id":"alaska-hawaii-shipping","confidence":0.73},)"
          R"("quick_replies":[]})";
    if (auto [wec, wn] = co_await ws.async_write(asio::buffer(out), use_nothrow); wec) co_return;
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor, sinks to) {
  for (;;) {
    // Each connection on its own strand, as in the real server.
    auto strand = asio::make_strand(acceptor.get_executor());
    auto [ec, socket] = co_await acceptor.async_accept(strand, use_nothrow);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    asio::co_spawn(strand, session(std::move(socket), to), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string store_path, log_path;
  bool index = false;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--store" && i + 1 < argc) {
      store_path = argv[++i];
    } else if (a == "--sqlite-log" && i + 1 < argc) {
      log_path = argv[++i];
    } else if (a == "--index") {
      index = true;
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::max(1, std::atoi(argv[++i]));
    } else {
      std::cerr << "usage: ws_floor [--store PATH | --sqlite-log PATH [--index]] [--threads N]\n";
      return 2;
    }
  }
  if (!store_path.empty() && !log_path.empty()) {
    std::cerr << "ws_floor: --store and --sqlite-log exclude each other\n";
    return 2;
  }
  core::log::set_level(core::log::level::warn);
  std::unique_ptr<store::store> st;
  if (!store_path.empty()) {
    auto opened =
        store::open_sqlite_store(store_path, core::store_config{}, core::system_clock::instance());
    if (!opened) {
      std::cerr << "ws_floor: " << opened.error().to_string() << "\n";
      return 1;
    }
    st = std::move(opened).value();
  }
  std::unique_ptr<sqlite_log> log;
  if (!log_path.empty()) {
    auto opened = sqlite_log::open(log_path, index);
    if (!opened) {
      std::cerr << "ws_floor: " << opened.error().to_string() << "\n";
      return 1;
    }
    log = std::move(opened).value();
  }

  asio::io_context io(threads);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::fprintf(stderr, "{\"event\":\"listening\",\"port\":%u}\n",
               static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stderr);
  asio::co_spawn(io, listen(acceptor, sinks{st.get(), log.get()}), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  if (st) st->close();
  log.reset();  // commits what is queued
  return 0;
}
