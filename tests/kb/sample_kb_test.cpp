// The sample knowledge_base/ shipped with the project: it loads without
// errors, every Markdown file is an article, the CSV variants join their
// articles, and every article's title finds that article first.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "bot/kb/index.hpp"
#include "tests/kb/kb_files.hpp"

using namespace bot::kb;
using bot::kb::test::all_messages;

namespace {

const std::string k_dir = std::string(SUPPORTBOT_SOURCE_DIR) + "/knowledge_base";

std::size_t count_files(const std::string& ext) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(k_dir)) {
    if (e.is_regular_file() && e.path().extension() == ext) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("the sample knowledge base loads without errors", "[sample]") {
  const kb_files kb = load_kb_dir(k_dir, kb_limits{});
  INFO(all_messages(kb.errors));
  REQUIRE(kb.errors.empty());
  const std::size_t md = count_files(".md");
  CHECK(md >= 80);
  CHECK(kb.articles.size() == md);
  CHECK(kb.files == md + count_files(".csv"));
  CHECK(kb.synonyms.size() >= 10);
  for (const auto& a : kb.articles) {
    INFO(a.file);
    CHECK_FALSE(a.id.empty());
    CHECK_FALSE(a.title.empty());
    CHECK_FALSE(a.body.empty());
    CHECK(a.questions.size() >= 2);
  }
  // variants.csv rows are appended to the article's own questions.
  const auto it = std::find_if(kb.articles.begin(), kb.articles.end(),
                               [](const article& a) { return a.id == "returns-policy"; });
  REQUIRE(it != kb.articles.end());
  CHECK(std::find(it->questions.begin(), it->questions.end(), "30 day return policy?") !=
        it->questions.end());
}

TEST_CASE("every sample article's title searches to itself first", "[sample][index]") {
  kb_files kb = load_kb_dir(k_dir, kb_limits{});
  REQUIRE(kb.errors.empty());
  const std::size_t n = kb.articles.size();
  auto built = kb_index::build(std::move(kb));
  INFO(built.error().message());
  REQUIRE(built.ok());
  const kb_index& idx = *built.value();
  REQUIRE(idx.articles().size() == n);
  std::size_t right = 0;
  for (const auto& a : idx.articles()) {
    const auto ms = idx.search(a.title, 3);
    INFO(a.id << ": " << a.title << " -> " << (ms.empty() ? std::string("(none)") : ms[0].art->id));
    REQUIRE_FALSE(ms.empty());
    CHECK(ms[0].art == &a);
    right += ms[0].art == &a;
  }
  CHECK(right == n);

  const kb_stats& st = idx.stats();
  CHECK(st.articles == n);
  std::size_t variants = 0;
  for (const auto& a : idx.articles()) variants += 1 + a.questions.size();
  CHECK(st.variants == variants);
  CHECK(st.held_out >= 20);  // enough to calibrate confidence from the KB itself
  CHECK(st.held_out < st.variants / 4);
  CHECK(st.train_accuracy >= 0.95);
}

TEST_CASE("sample questions visitors ask reach the right article", "[sample][index]") {
  auto built = kb_index::build(load_kb_dir(k_dir, kb_limits{}));
  REQUIRE(built.ok());
  const kb_index& idx = *built.value();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"can I send my boots back", "returns-policy"},
      {"do you delivr to hawaii", "alaska-hawaii-shipping"},
      {"where is my pakage", "order-tracking"},
      {"I forgot my password", "reset-password"},
      {"where can I find my package", "order-tracking"},
  };
  for (const auto& [text, want] : cases) {
    const auto ms = idx.search(text, 3);
    INFO(text);
    REQUIRE_FALSE(ms.empty());
    CHECK(ms[0].art->id == want);
  }
}
