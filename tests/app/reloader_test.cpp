#include "bot/app/reloader.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "bot/app/rules.hpp"
#include "bot/core/ids.hpp"

using namespace bot;
namespace fs = std::filesystem;

namespace {

const char* k_orders = R"(intents:
  - id: order_status
    patterns: ['\bwhere\b.*\border\b']
    slots: {order_id: '(?P<order_id>\b[A-Za-z]{2}-?\d{5,8}\b)'}
    responses:
      - when: {missing: [order_id]}
        text: "What's your order number?"
        expect: order_id
      - text: "Order {order_id} is on its way."
    examples: [where is my order]
)";

const char* k_greeting_v2 = R"(intents:
  - id: greeting
    patterns: ['^(hi|hello)\b']
    responses: ["Hello there!"]
    examples: [hello]
)";

struct temp_rules {
  fs::path dir = fs::temp_directory_path() / ("sb_rules_" + core::random_hex(6));
  temp_rules() {
    fs::create_directories(dir);
    write("orders.yaml", k_orders);
  }
  ~temp_rules() { fs::remove_all(dir); }
  // Written like an editor does: a temp file renamed over the target.
  void write(const std::string& name, const std::string& text) const {
    const fs::path tmp = dir / ("." + name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, dir / name);
  }
};

template <typename Pred>
bool eventually(Pred p, std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (p()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return p();
}

}  // namespace

TEST_CASE("a valid edit is live within 2 s, a broken one keeps the old rules") {
  temp_rules t;
  core::config cfg;
  cfg.intents_dir = t.dir.string();
  dialog::snapshot_holder holder;
  app::reloader r({cfg.intents_dir}, [&cfg] { return app::load_snapshot(cfg); }, holder, 100);
  REQUIRE(r.reload_now().ok());
  REQUIRE(r.start().ok());
  REQUIRE(holder.get()->rules->find("order_status") != nullptr);
  CHECK(holder.get()->rules->find("greeting") == nullptr);

  // A conversation is mid-flow: the bot asked for the order number.
  dialog::router router(cfg.routing);
  dialog::dialog_state state;
  std::mt19937_64 rng(1);
  auto d = router.route("where is my order", state, *holder.get(), rng);
  REQUIRE(state.expect_slot == "order_id");

  t.write("greeting.yaml", k_greeting_v2);
  CHECK(eventually([&] { return holder.get()->rules->find("greeting") != nullptr; }));
  CHECK(holder.reloads() == 2);

  // The flow continues on the new snapshot.
  d = router.route("AB-123456", state, *holder.get(), rng);
  CHECK(d.source_id == "order_status");
  CHECK(d.text == "Order AB-123456 is on its way.");

  // Broken: a bad regex and an unknown key. The old rules keep serving.
  const auto before = holder.get();
  t.write("broken.yaml", "intents:\n  - id: broken\n    patterns: ['(unclosed']\n    respones: [x]\n");
  CHECK(eventually([&] { return holder.failures() == 1; }));
  CHECK(holder.get() == before);
  CHECK(holder.get()->rules->find("greeting") != nullptr);

  // Fixing the file makes it live again.
  t.write("broken.yaml", "intents: []\n");
  CHECK(eventually([&] { return holder.reloads() == 3; }));
  CHECK(holder.get() != before);
  r.stop();
}

TEST_CASE("reload_now reports every error with file:line:col") {
  temp_rules t;
  t.write("bad.yaml",
          "intents:\n"
          "  - id: a\n"
          "    patterns: ['(x']\n"
          "    responses: [\"{nope}\"]\n"
          "  - id: a\n"
          "    patterns: [y]\n"
          "    responses: [ok]\n");
  core::config cfg;
  cfg.intents_dir = t.dir.string();
  dialog::snapshot_holder holder;
  app::reloader r({cfg.intents_dir}, [&cfg] { return app::load_snapshot(cfg); }, holder);
  const auto s = r.reload_now();
  REQUIRE_FALSE(s.ok());
  const std::string bad = (t.dir / "bad.yaml").string();
  CHECK(s.message().find(bad + ":4:17: template {nope} names unknown slot 'nope'") != std::string::npos);
  CHECK(s.message().find(bad + ":5:9: duplicate id 'a' (first defined at " + bad + ":2:9)") != std::string::npos);
  CHECK(s.message().find(bad + ":3:16: pattern is not valid RE2: missing ): (x") != std::string::npos);
  CHECK(holder.get() == nullptr);
  CHECK(holder.failures() == 1);
}

TEST_CASE("a knowledge base edit in a topic folder is live within 2 s, a broken one keeps the old KB") {
  temp_rules t;
  const fs::path kb = t.dir / "kb";
  fs::create_directories(kb / "tents");
  const auto write_article = [&](const std::string& name, const std::string& text) {
    const fs::path tmp = kb / "tents" / ("." + name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, kb / "tents" / name);
  };
  write_article("setup.md",
                "---\nid: tent-setup\ntitle: How do I set up my tent?\nquestions: [pitching a tent]\n---\nStake the corners first.\n");
  core::config cfg;
  cfg.intents_dir = t.dir.string();
  cfg.kb_dir = kb.string();
  dialog::snapshot_holder holder;
  app::reloader r({cfg.intents_dir, cfg.kb_dir}, [&cfg] { return app::load_snapshot(cfg); }, holder, 100);
  REQUIRE(r.reload_now().ok());
  REQUIRE(r.start().ok());
  REQUIRE(holder.get()->kb->find("tent-setup") != nullptr);
  CHECK(holder.get()->kb->find("tent-seams") == nullptr);

  write_article("seams.md",
                "---\nid: tent-seams\ntitle: How do I seal the seams of my tent?\n---\nUse a silicone sealer.\n");
  CHECK(eventually([&] { return holder.get()->kb->find("tent-seams") != nullptr; }));
  const auto good = holder.get();
  const auto results = good->kb->search("seal the seams of my tent", 1);
  REQUIRE_FALSE(results.empty());
  CHECK(results[0].art->id == "tent-seams");

  // A duplicate id is refused; the previous KB keeps answering.
  write_article("dup.md", "---\nid: tent-setup\ntitle: Again\n---\nText.\n");
  CHECK(eventually([&] { return holder.failures() == 1; }));
  CHECK(holder.get() == good);
  fs::remove(kb / "tents" / "dup.md");
  CHECK(eventually([&] { return holder.get() != good; }));
  r.stop();
}
