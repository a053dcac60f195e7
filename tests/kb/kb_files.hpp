// Test helpers for knowledge_base/: a temporary folder that tests write
// articles, CSV files and synonyms.yaml into (removed afterwards), article
// text built from parts, small in-memory KBs, and lookups over load errors.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/temp_dir.hpp"
#include <string>
#include <vector>

#include "bot/kb/article.hpp"

namespace bot::kb::test {

using bot::testing::temp_dir;

// The text of an article file: front matter, then the body.
inline std::string article_text(const std::string& id, const std::string& title,
                                const std::vector<std::string>& questions = {},
                                const std::string& body = "The answer.") {
  std::string out = "---\nid: " + id + "\ntitle: " + title + "\n";
  if (!questions.empty()) {
    out += "questions:\n";
    for (const auto& q : questions) out += "  - " + q + "\n";
  }
  return out + "---\n" + body + "\n";
}

inline article make_article(std::string id, std::string title, std::vector<std::string> questions,
                            std::string body) {
  article a;
  a.id = std::move(id);
  a.title = std::move(title);
  a.questions = std::move(questions);
  a.body = std::move(body);
  a.file = a.id + ".md";
  return a;
}

inline std::string all_messages(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

// The number of errors that start with "prefix: " and contain `what`.
inline std::size_t count_errors(const std::vector<std::string>& errors, const std::string& prefix,
                                const std::string& what) {
  return static_cast<std::size_t>(
      std::count_if(errors.begin(), errors.end(), [&](const std::string& e) {
        return e.rfind(prefix + ": ", 0) == 0 && e.find(what) != std::string::npos;
      }));
}

inline bool has_error(const std::vector<std::string>& errors, const std::string& prefix,
                      const std::string& what) {
  return count_errors(errors, prefix, what) > 0;
}

}  // namespace bot::kb::test

// Checks that `errors` holds an error "<file>:<line>: ...<what>...".
#define CHECK_KB_ERROR(errors, file, line, what)                                              \
  do {                                                                                        \
    INFO("expected " << (file) << ":" << (line) << ": ..." << (what));                        \
    INFO("got:\n" << ::bot::kb::test::all_messages(errors));                                  \
    CHECK(::bot::kb::test::has_error((errors), (file) + ":" + std::to_string(line), (what))); \
  } while (false)
