// Webhook signatures and URLs. (Deliveries, retries and verification by a
// receiver: tests/interop/webhooks_test.py.)
#include "bot/net/webhooks.hpp"

#include <catch2/catch.hpp>

using bot::net::parse_webhook_url;
using bot::net::webhook_signature;

TEST_CASE("the signature is HMAC-SHA256 of timestamp.body, in hex", "[webhooks]") {
  // Expected from Python's hmac module.
  CHECK(webhook_signature("Jefe", "1796200200", "{\"a\":1}") ==
        "v1=64f40ec4115ae3381b80d77e0093bb34f55b59c06ae34bc07d34d06b03fb2b6d");
  CHECK(webhook_signature("Jefe", "1796200201", "{\"a\":1}") !=
        webhook_signature("Jefe", "1796200200", "{\"a\":1}"));
  CHECK(webhook_signature("Jefx", "1796200200", "{\"a\":1}") !=
        webhook_signature("Jefe", "1796200200", "{\"a\":1}"));
}

TEST_CASE("webhook URLs: scheme, host, port, target", "[webhooks]") {
  auto u = parse_webhook_url("https://hooks.example/supportbot?x=1");
  REQUIRE(u);
  CHECK(u->tls);
  CHECK(u->host == "hooks.example");
  CHECK(u->port == "443");
  CHECK(u->target == "/supportbot?x=1");
  u = parse_webhook_url("http://127.0.0.1:9000");
  REQUIRE(u);
  CHECK_FALSE(u->tls);
  CHECK(u->port == "9000");
  CHECK(u->target == "/");
  u = parse_webhook_url("http://[::1]:8081/h");
  REQUIRE(u);
  CHECK(u->host == "::1");
  CHECK(u->port == "8081");
  u = parse_webhook_url("http://h.example?q");
  REQUIRE(u);
  CHECK(u->target == "/?q");
  CHECK_FALSE(parse_webhook_url("ftp://h.example/"));
  CHECK_FALSE(parse_webhook_url("http://"));
  CHECK_FALSE(parse_webhook_url("http://user:pw@h.example/"));
  CHECK_FALSE(parse_webhook_url("http://h.example:99999/"));
  CHECK_FALSE(parse_webhook_url("http://h.example:80x/"));
  CHECK_FALSE(parse_webhook_url("http://[::1/"));
}
