#include "bot/core/log.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace bot::core;

TEST_CASE("log lines are JSON objects with escaped fields") {
  const std::string line = log::format(log::level::warn, "conn_closed",
                                       {{"conversation_id", "c_1"},
                                        {"code", 1009},
                                        {"ok", false},
                                        {"ratio", 0.5},
                                        {"note", "a \"quoted\"\nline\x01"}});
  CHECK(line.rfind("{\"ts\":\"", 0) == 0);
  CHECK(line.find("\"level\":\"warn\"") != std::string::npos);
  CHECK(line.find("\"event\":\"conn_closed\"") != std::string::npos);
  CHECK(line.find("\"conversation_id\":\"c_1\"") != std::string::npos);
  CHECK(line.find("\"code\":1009") != std::string::npos);
  CHECK(line.find("\"ok\":false") != std::string::npos);
  CHECK(line.find("\"ratio\":0.5") != std::string::npos);
  CHECK(line.find(R"("note":"a \"quoted\"\nline\u0001")") != std::string::npos);
  CHECK(line.back() == '}');
}

TEST_CASE("levels below the threshold are dropped") {
  std::vector<std::string> lines;
  log::set_sink([&](std::string_view l) { lines.emplace_back(l); });
  log::set_level(log::level::warn);
  log::info("hidden");
  log::error("shown", {{"n", 1}});
  log::set_level(log::level::info);
  log::set_sink(nullptr);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("\"event\":\"shown\"") != std::string::npos);
  CHECK(log::parse_level("debug") == log::level::debug);
  CHECK_FALSE(log::parse_level("verbose").has_value());
}

TEST_CASE("invalid UTF-8 in a field never breaks the JSON") {
  const std::string line = log::format(log::level::info, "x", {{"v", "\xff"}});
  CHECK(line.find("\"v\":\"\xef\xbf\xbd\"") != std::string::npos);
}
