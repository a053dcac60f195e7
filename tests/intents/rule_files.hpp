// Test helpers for intents/*.yaml: a temporary folder that the test writes
// rule files into (removed afterwards), YAML built from lines so that a test
// can name the line and column of a token, and lookups over load errors.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/temp_dir.hpp"
#include <string>
#include <vector>

#include "bot/intents/loader.hpp"
#include "bot/intents/model.hpp"

namespace bot::intents::test {

using bot::testing::temp_dir;

// A YAML document as numbered lines (1-based), so tests can say where a
// token is: at(3, "colour") is "3:<column of colour>".
class yaml_lines {
 public:
  yaml_lines(std::initializer_list<std::string> lines) : lines_(lines) {}

  std::string text() const {
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }
  const std::string& line(int n) const { return lines_.at(static_cast<std::size_t>(n - 1)); }

  // "line:col" of the first occurrence of `token` on line `n`; the test fails
  // loudly (an out-of-range column) when the token is not there.
  std::string at(int n, const std::string& token, std::size_t from = 0) const {
    const auto c = line(n).find(token, from);
    const std::string col = c == std::string::npos ? std::string("?") : std::to_string(c + 1);
    return std::to_string(n) + ":" + col;
  }

 private:
  std::vector<std::string> lines_;
};

inline std::string all_messages(const std::vector<load_error>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.message() + "\n";
  return out;
}

// The number of errors whose message starts with "prefix: " and contains
// `what`.
inline std::size_t count_errors(const std::vector<load_error>& errors, const std::string& prefix,
                                const std::string& what) {
  return static_cast<std::size_t>(
      std::count_if(errors.begin(), errors.end(), [&](const load_error& e) {
        const std::string m = e.message();
        return m.rfind(prefix + ": ", 0) == 0 && m.find(what) != std::string::npos;
      }));
}

inline bool has_error(const std::vector<load_error>& errors, const std::string& prefix,
                      const std::string& what) {
  return count_errors(errors, prefix, what) > 0;
}

}  // namespace bot::intents::test
