// The knowledge base model (DESIGN §4): FAQ articles from knowledge_base/,
// one Markdown file each with YAML front matter, plus bulk question variants
// from CSV files and optional synonyms. Plain values.
#pragma once

#include <string>
#include <vector>

namespace bot::kb {

struct article {
  std::string id;     // [a-z0-9-_.]+, unique
  std::string title;  // the question as visitors ask it
  std::vector<std::string> questions;  // other ways to ask it (front matter and CSV)
  std::vector<std::string> tags;
  std::string body;  // safe Markdown subset
  std::string file;
  int line = 1;
};

// Groups of words or phrases that mean the same ("parcel", "package").
using synonym_groups = std::vector<std::vector<std::string>>;

struct kb_files {
  std::vector<article> articles;   // in file-name order
  synonym_groups synonyms;
  std::vector<std::string> errors;  // "path:line: message"
  std::size_t files = 0;
};

struct kb_limits {
  std::int64_t file_bytes = 1 << 20;
  std::size_t max_articles = 100000;
};

// Parses one article file's text; errors go to `errors`.
bool parse_article(const std::string& file, const std::string& text, article& out,
                   std::vector<std::string>& errors);

// Parses CSV text with header "article,question" into (article, question, line).
struct csv_variant {
  std::string article;
  std::string question;
  int line = 0;
};
std::vector<csv_variant> parse_variants_csv(const std::string& file, const std::string& text,
                                            std::vector<std::string>& errors);

// Reads knowledge_base/**/*.md, **/*.csv and synonyms.yaml. A missing folder
// is an empty KB (no error); every problem is reported, not just the first.
kb_files load_kb_dir(const std::string& dir, const kb_limits& limits);

}  // namespace bot::kb
