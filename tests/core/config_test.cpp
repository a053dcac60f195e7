#include "bot/core/config.hpp"

#include <catch2/catch.hpp>

using namespace bot::core;

TEST_CASE("defaults are the documented ones") {
  config c;
  CHECK(c.port == 8080);
  CHECK(c.routing.answer_threshold == Approx(0.6));
  CHECK(c.routing.clarify_threshold == Approx(0.35));
  CHECK(c.routing.ambiguity_margin == Approx(0.1));
  CHECK(c.routing.fallbacks_before_handoff == 2);
  CHECK(c.routing.context_ttl == 3);
  CHECK(c.limits.max_frame_bytes == 65536);
  CHECK(c.limits.max_text_chars == 4000);
  CHECK(c.limits.outbound_queue == 256);
  CHECK(c.limits.replay_window == 500);
  CHECK(c.limits.rule_file_bytes == 1 << 20);
  CHECK(c.limits.pattern_bytes == 1024);
  CHECK(c.limits.re2_max_mem_mb == 64);
  CHECK(validate_config(c).ok());
}

TEST_CASE("scalar keys parse and range-check") {
  config c;
  CHECK(set_config_value(c, "port", "9000").ok());
  CHECK(c.port == 9000);
  CHECK(set_config_value(c, "routing.answer_threshold", "0.75").ok());
  CHECK(c.routing.answer_threshold == Approx(0.75));

  auto s = set_config_value(c, "port", "80x");
  CHECK(s.message() == "port: expected an integer, got '80x'");
  s = set_config_value(c, "port", "70000");
  CHECK(s.message().find("out of range") != std::string::npos);
  s = set_config_value(c, "routing.answer_threshold", "1.5");
  CHECK_FALSE(s.ok());
  s = set_config_value(c, "log.level", "loud");
  CHECK(s.message() == "log.level: 'loud' is not one of debug info warn error");
  s = set_config_value(c, "nope", "1");
  CHECK(s.message() == "unknown key 'nope'");
  s = set_config_value(c, "allowed_origins", "x");
  CHECK(s.message() == "allowed_origins: expected a list");
  CHECK(c.port == 9000);  // failures leave values alone
}

TEST_CASE("list keys validate every item") {
  config c;
  CHECK(set_config_list(c, "allowed_origins", {"https://shop.example", "http://localhost:*"}).ok());
  CHECK(c.allowed_origins.size() == 2);
  CHECK_FALSE(set_config_list(c, "allowed_origins", {"shop.example"}).ok());
  CHECK_FALSE(set_config_list(c, "allowed_origins", {"https://shop.example/"}).ok());
  CHECK_FALSE(set_config_list(c, "port", {"1"}).ok());
}

TEST_CASE("opening hours parse into weekly ranges") {
  auto r = parse_opening("mon-fri 09:00-17:30");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 5);
  CHECK((*r)[0].weekday == 0);
  CHECK((*r)[4].weekday == 4);
  CHECK((*r)[0].start_min == 540);
  CHECK((*r)[0].end_min == 1050);
  CHECK(parse_opening("sun 00:00-24:00").ok());
  CHECK_FALSE(parse_opening("fri-mon 09:00-10:00").ok());
  CHECK_FALSE(parse_opening("mon 10:00-09:00").ok());
  CHECK_FALSE(parse_opening("mon 9-17").ok());
  CHECK_FALSE(parse_opening("someday 09:00-10:00").ok());
  config c;
  CHECK(set_config_list(c, "hours.open", {"mon-fri 09:00-18:00", "sat 10:00-14:00"}).ok());
  CHECK(c.hours.ranges.size() == 6);
  CHECK(set_config_value(c, "hours.timezone", "America/Denver").ok());
  CHECK_FALSE(set_config_value(c, "hours.timezone", "../../etc/passwd").ok());
}

TEST_CASE("environment overrides") {
  config c;
  CHECK(env_name("routing.answer_threshold") == "SUPPORTBOT_ROUTING_ANSWER_THRESHOLD");
  CHECK(env_name("port") == "SUPPORTBOT_PORT");
  auto s = apply_env_overrides(c, {"HOME=/root", "SUPPORTBOT_PORT=9090",
                                   "SUPPORTBOT_LIMITS_OUTBOUND_QUEUE=10",
                                   "SUPPORTBOT_ALLOWED_ORIGINS=https://a.example, https://b.example"});
  REQUIRE(s.ok());
  CHECK(c.port == 9090);
  CHECK(c.limits.outbound_queue == 10);
  CHECK(c.allowed_origins == std::vector<std::string>{"https://a.example", "https://b.example"});
  s = apply_env_overrides(c, {"SUPPORTBOT_PROT=1"});
  CHECK(s.message().find("SUPPORTBOT_PROT") != std::string::npos);
  s = apply_env_overrides(c, {"SUPPORTBOT_PORT=abc"});
  CHECK(s.message() == "environment SUPPORTBOT_PORT: port: expected an integer, got 'abc'");
}

TEST_CASE("cross-key validation") {
  config c;
  c.routing.clarify_threshold = 0.8;
  CHECK_FALSE(validate_config(c).ok());
  config d;
  d.limits.max_text_chars = 100000;
  CHECK_FALSE(validate_config(d).ok());
}

TEST_CASE("every key is settable from its own printed default") {
  config c;
  for (const auto& k : config_keys()) {
    const std::string text = config_value_text(c, k.name);
    INFO(k.name << " = " << text);
    if (k.kind == key_kind::string_list) continue;
    CHECK(set_config_value(c, k.name, text).ok());
  }
}

TEST_CASE("webhook URLs and secrets are checked when the config is read") {
  bot::core::config c;
  using bot::core::set_config_list;
  CHECK(set_config_list(c, "webhooks.urls", {"https://hooks.example/x", "http://[::1]:8081/h"}).ok());
  for (const char* bad : {"ftp://x.example/", "http://", "http://x.example:99999/",
                          "http://x.example:0/", "http://user@x.example/", "http://x example/",
                          "http://[::1/"}) {
    INFO(bad);
    CHECK_FALSE(set_config_list(c, "webhooks.urls", {bad}).ok());
  }
  CHECK_FALSE(bot::core::set_config_value(c, "webhooks.secret", "short").ok());
  CHECK(bot::core::set_config_value(c, "webhooks.secret", "0123456789abcdef").ok());
  CHECK(bot::core::config_value_text(c, "webhooks.secret") == "(set)");  // never printed
  bot::core::config no_secret;
  no_secret.webhooks.urls = {"https://hooks.example/x"};
  CHECK_FALSE(bot::core::validate_config(no_secret).ok());
}
