#include "bot/core/text.hpp"

#include <catch2/catch.hpp>
#include <cctype>
#include <random>
#include <string>

using namespace bot::core;

TEST_CASE("utf8 validation") {
  CHECK(is_valid_utf8("plain ascii"));
  CHECK(is_valid_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80"));  // café 😀
  CHECK_FALSE(is_valid_utf8("\xc3"));                    // truncated
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));                // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));            // surrogate
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));        // > U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xff"));
}

TEST_CASE("sanitize replaces each bad byte with U+FFFD") {
  CHECK(sanitize_utf8("a\xffz") == "a\xef\xbf\xbdz");
  CHECK(sanitize_utf8("ok \xc3\xa9") == "ok \xc3\xa9");
  CHECK(is_valid_utf8(sanitize_utf8("\xc3\x28\xa0\xa1")));
}

TEST_CASE("utf8_length counts code points") {
  CHECK(utf8_length("") == 0);
  CHECK(utf8_length("abc") == 3);
  CHECK(utf8_length("caf\xc3\xa9") == 4);
  CHECK(utf8_length("\xf0\x9f\x98\x80\xf0\x9f\x98\x80") == 2);
  CHECK(utf8_length("\xff\xfe") == 2);
}

TEST_CASE("normalize lower-cases, folds punctuation and collapses spaces") {
  CHECK(normalize("  Where IS my   Order?\t\n") == "where is my order?");
  CHECK(normalize("It hasn\xe2\x80\x99t arrived") == "it hasn't arrived");  // curly apostrophe
  CHECK(normalize("\xe2\x80\x9cHi\xe2\x80\x9d \xe2\x80\x94 there") == "\"hi\" - there");
  CHECK(normalize("\xc3\x89T\xc3\x89") == "\xc3\xa9t\xc3\xa9");           // ÉTÉ -> été
  CHECK(normalize("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2") ==  // ПРИВЕТ
        "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");              // привет
  CHECK(normalize("a\xc2\xa0"
                  "b") == "a b");  // NBSP
  CHECK(normalize("\x01\x02") == "");
  CHECK(normalize("\xff") == "\xef\xbf\xbd");
}

// normalize() has three paths for ASCII text (only lower-casing; collapsing
// spaces and controls; the general UTF-8 one): each must give what this
// reference gives.
std::string reference_ascii_normalize(const std::string& s) {
  std::string out;
  bool pending = false;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F) {
      pending = true;
      continue;
    }
    if (pending && !out.empty()) out += ' ';
    pending = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

TEST_CASE("normalize agrees with a reference on random ASCII text") {
  std::mt19937 gen(12345);
  const std::string alphabet = "aZ Q.?!-'09\t\n\x01\x7f  ";
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    const std::size_t n = gen() % 24;
    for (std::size_t i = 0; i < n; ++i) {
      // Mostly printable characters, so that the lower-casing path is taken often.
      s += gen() % 4 ? static_cast<char>(0x20 + gen() % 0x5F) : alphabet[gen() % alphabet.size()];
    }
    INFO("input: " << s);
    REQUIRE(normalize(s) == reference_ascii_normalize(s));
  }
  CHECK(normalize("Where IS my Order?") == "where is my order?");
  CHECK(normalize("@[`{") == "@[`{");  // the bytes around A-Z are not letters
}

TEST_CASE("blank text") {
  CHECK(is_blank(""));
  CHECK(is_blank(" \t\r\n"));
  CHECK(is_blank("\xe2\x80\x83\xc2\xa0"));  // em space, NBSP
  CHECK_FALSE(is_blank(" x "));
  CHECK(trim("  a b  ") == "a b");
}

TEST_CASE("words split on punctuation but keep inner apostrophes") {
  const auto w = words(normalize("Don't   ship it, OK? 2-day  caf\xc3\xa9!"));
  REQUIRE(w.size() == 7);
  CHECK(w[0] == "don't");
  CHECK(w[1] == "ship");
  CHECK(w[3] == "ok");
  CHECK(w[4] == "2");
  CHECK(w[5] == "day");
  CHECK(w[6] == "caf\xc3\xa9");
  CHECK(words("").empty());
  CHECK(words("'quoted'") == std::vector<std::string>{"quoted"});
}
