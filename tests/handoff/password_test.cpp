// Agent password hashing: PBKDF2-HMAC-SHA256 with a salt, verification,
// bounds, and generated passwords.
#include "bot/handoff/password.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <vector>

using namespace bot;
using namespace bot::handoff;

TEST_CASE("a hashed password verifies and another does not") {
  const auto h = hash_password("correct horse battery", 2000);
  REQUIRE(h.ok());
  CHECK(h.value().rfind("pbkdf2-sha256$2000$", 0) == 0);
  CHECK(h.value().find("correct") == std::string::npos);
  CHECK(verify_password("correct horse battery", h.value()));
  CHECK_FALSE(verify_password("correct horse batterY", h.value()));
  CHECK_FALSE(verify_password("", h.value()));
  // A new salt each time: the same password hashes differently.
  const auto h2 = hash_password("correct horse battery", 2000);
  CHECK(h2.value() != h.value());
  CHECK(verify_password("correct horse battery", h2.value()));
}

TEST_CASE("the default cost is OWASP's 600,000 iterations") {
  const auto h = hash_password("correct horse battery");
  REQUIRE(h.ok());
  CHECK(h.value().rfind("pbkdf2-sha256$600000$", 0) == 0);
  CHECK(verify_password("correct horse battery", h.value()));
}

TEST_CASE("malformed stored hashes never verify") {
  const auto good = hash_password("secret password", 1000).value();
  const auto cut = good.substr(0, good.size() - 2);
  const std::vector<std::string> bads = {"", "plain", "pbkdf2-sha256$1000$ab", "md5$1000$00$00",
                                         "pbkdf2-sha256$x$00$00", "pbkdf2-sha256$10$00$00",
                                         "pbkdf2-sha256$99999999999$00$00", "pbkdf2-sha256$1000$zz$00", cut};
  for (const auto& bad : bads) {
    CHECK_FALSE(verify_password("secret password", bad));
  }
}

TEST_CASE("bad passwords and costs are refused") {
  CHECK(hash_password("", 1000).error().code() == core::errc::invalid_argument);
  CHECK(hash_password(std::string(2000, 'a'), 1000).error().code() == core::errc::invalid_argument);
  CHECK(hash_password("ok password", 10).error().code() == core::errc::invalid_argument);
  CHECK_FALSE(verify_password(std::string(2000, 'a'), hash_password("x", 1000).value()));
}

TEST_CASE("generated passwords are letters and digits and do not repeat") {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const auto p = generate_password();
    CHECK(p.size() == 20);
    for (char c : p) CHECK(std::isalnum(static_cast<unsigned char>(c)));
    seen.insert(p);
  }
  CHECK(seen.size() == 200);
  CHECK(generate_password(7).size() == 7);
}
