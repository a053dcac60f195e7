#include "bot/app/config_file.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bot/core/ids.hpp"

using namespace bot;
namespace fs = std::filesystem;

namespace {

struct temp_config {
  fs::path dir = fs::temp_directory_path() / ("sb_cfg_" + core::random_hex(6));
  fs::path file = dir / "supportbot.yaml";
  explicit temp_config(const std::string& text) {
    fs::create_directories(dir);
    std::ofstream(file) << text;
  }
  ~temp_config() { fs::remove_all(dir); }
};

}  // namespace

TEST_CASE("a valid file sets keys and resolves paths against its folder") {
  temp_config t(
      "port: 9001\n"
      "data_dir: data\n"
      "intents_dir: /srv/intents\n"
      "allowed_origins: [\"https://shop.example\"]\n"
      "routing:\n"
      "  answer_threshold: 0.7\n"
      "limits:\n"
      "  outbound_queue: 64\n"
      "hours:\n"
      "  timezone: America/Denver\n"
      "  open: [\"mon-fri 09:00-18:00\", \"sat 10:00-14:00\"]\n");
  auto c = app::load_config({t.file.string(), {}});
  REQUIRE(c.ok());
  CHECK(c->port == 9001);
  CHECK(c->data_dir == (t.dir / "data").string());
  CHECK(c->intents_dir == "/srv/intents");
  CHECK(c->kb_dir == (t.dir / "knowledge_base").string());
  CHECK(c->allowed_origins == std::vector<std::string>{"https://shop.example"});
  CHECK(c->routing.answer_threshold == Approx(0.7));
  CHECK(c->limits.outbound_queue == 64);
  CHECK(c->hours.ranges.size() == 6);
}

TEST_CASE("every error is reported with file:line:col") {
  temp_config t(
      "port: eighty\n"
      "colour: blue\n"
      "routing:\n"
      "  answer_treshold: 0.7\n"
      "  clarify_threshold: 2\n"
      "limits: 5\n"
      "allowed_origins: [\"shop.example\"]\n");
  auto c = app::load_config({t.file.string(), {}});
  REQUIRE_FALSE(c.ok());
  const std::string msg = c.error().message();
  const std::string f = t.file.string();
  CHECK(msg.find(f + ":1:7: port: expected an integer, got 'eighty'") != std::string::npos);
  CHECK(msg.find(f + ":2:1: unknown key 'colour'") != std::string::npos);
  CHECK(msg.find(f + ":4:3: unknown key 'routing.answer_treshold'") != std::string::npos);
  CHECK(msg.find(f + ":5:22: routing.clarify_threshold: 2 is out of range") != std::string::npos);
  CHECK(msg.find(f + ":6:9: limits: expected a section") != std::string::npos);
  CHECK(msg.find(f + ":7:18: allowed_origins:") != std::string::npos);
  CHECK(std::count(msg.begin(), msg.end(), '\n') == 5);  // six errors, one per line
}

TEST_CASE("syntax errors, missing files and non-map documents") {
  temp_config t("port: [1, 2\n");
  auto c = app::load_config({t.file.string(), {}});
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message().rfind(t.file.string() + ":", 0) == 0);

  auto missing = app::load_config({"/nonexistent/supportbot.yaml", {}});
  CHECK(missing.error().message() == "/nonexistent/supportbot.yaml: no such config file");

  temp_config list("- a\n- b\n");
  auto l = app::load_config({list.file.string(), {}});
  CHECK(l.error().message() == list.file.string() + ":1:1: expected a map of settings at the top level");

  temp_config empty("");
  CHECK(app::load_config({empty.file.string(), {}}).ok());
}

TEST_CASE("environment overrides the file, and cross-key checks run last") {
  temp_config t("port: 9001\nrouting:\n  answer_threshold: 0.5\n");
  auto c = app::load_config({t.file.string(), {"SUPPORTBOT_PORT=9002"}});
  REQUIRE(c.ok());
  CHECK(c->port == 9002);
  auto bad = app::load_config({t.file.string(), {"SUPPORTBOT_ROUTING_CLARIFY_THRESHOLD=0.55"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message().find("must not exceed routing.answer_threshold") != std::string::npos);
}

TEST_CASE("deploy/supportbot.yaml lists every key with its default") {
  const fs::path deploy = fs::path(SUPPORTBOT_SOURCE_DIR) / "deploy" / "supportbot.yaml";
  std::ifstream in(deploy);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  // Same text as the generator: every key, every default, every comment.
  CHECK(text.str().find(app::config_to_yaml(core::config{})) != std::string::npos);
  // And it loads to the defaults.
  auto c = app::load_config({deploy.string(), {}});
  REQUIRE(c.ok());
  CHECK(c->port == 8080);
  CHECK(c->routing.answer_threshold == Approx(0.6));
}
