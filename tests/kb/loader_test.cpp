// Loading knowledge_base/ (DESIGN 4): Markdown articles with YAML front
// matter, CSV question variants and synonyms.yaml. Every problem is reported
// as "path:line: message" at the right line, and all problems of a run are
// listed at once.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "bot/kb/article.hpp"
#include "tests/kb/kb_files.hpp"

using namespace bot::kb;
using bot::kb::test::all_messages;
using bot::kb::test::article_text;
using bot::kb::test::count_errors;
using bot::kb::test::has_error;
using bot::kb::test::temp_dir;

namespace {

kb_files load(const temp_dir& dir) {
  return load_kb_dir(dir.str(), kb_limits{});
}

const article* find(const kb_files& kb, const std::string& id) {
  for (const auto& a : kb.articles) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("an article parses: id, title, questions, tags, body", "[loader]") {
  temp_dir dir;
  const std::string file = dir.write("returns/returns-policy.md",
                                     "---\n"                                          // 1
                                     "id: returns-policy\n"                           // 2
                                     "title: What is your return policy?\n"           // 3
                                     "questions:                     # other ways\n"  // 4
                                     "  - can I send something back\n"                // 5
                                     "  - how long do I have to return an item\n"     // 6
                                     "tags: [returns, policy]\n"                      // 7
                                     "---\n"                                          // 8
                                     "You can return unworn items within **30 days**.\n"
                                     "\n"
                                     "[Start a return](https://shop.example/returns)\n");
  const kb_files kb = load(dir);
  INFO(all_messages(kb.errors));
  REQUIRE(kb.errors.empty());
  CHECK(kb.files == 1);
  REQUIRE(kb.articles.size() == 1);
  const article& a = kb.articles[0];
  CHECK(a.id == "returns-policy");
  CHECK(a.title == "What is your return policy?");
  CHECK(a.questions == std::vector<std::string>{"can I send something back",
                                                "how long do I have to return an item"});
  CHECK(a.tags == std::vector<std::string>{"returns", "policy"});
  CHECK(a.body ==
        "You can return unworn items within **30 days**.\n\n[Start a "
        "return](https://shop.example/returns)");
  CHECK(a.file == file);
  CHECK(a.line == 2);
}

TEST_CASE("parse_article accepts a BOM and CRLF line endings", "[loader]") {
  std::vector<std::string> errors;
  article a;
  const bool ok = parse_article(
      "a.md",
      "\xEF\xBB\xBF---\r\nid: crlf\r\ntitle: Windows file\r\nquestions: [one, two]\r\n"
      "---\r\nBody line.\r\n",
      a, errors);
  INFO(all_messages(errors));
  CHECK(ok);
  CHECK(errors.empty());
  CHECK(a.id == "crlf");
  CHECK(a.title == "Windows file");
  CHECK(a.questions == std::vector<std::string>{"one", "two"});
  CHECK(a.body == "Body line.");
}

TEST_CASE("a missing id or title is an error at the front matter", "[loader][errors]") {
  temp_dir dir;
  const std::string no_id = dir.write("no-id.md", "---\ntitle: Where is my order?\n---\nHere.\n");
  const std::string no_title =
      dir.write("no-title.md", "---\nid: no-title\nquestions: [x]\n---\nHere.\n");
  const std::string blank_title =
      dir.write("blank-title.md", "---\nid: blank-title\ntitle: '  '\n---\nHere.\n");
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, no_id, 2, "missing id");
  CHECK_KB_ERROR(kb.errors, no_title, 2, "missing title");
  CHECK_KB_ERROR(kb.errors, blank_title, 3, "title: expected text");
  CHECK_KB_ERROR(kb.errors, blank_title, 2, "missing title");
  CHECK(kb.articles.empty());
}

TEST_CASE("an invalid id is an error at its line", "[loader][errors]") {
  temp_dir dir;
  const std::string f = dir.write("bad.md", "---\ntitle: Hi\nid: Bad Id!\n---\nHere.\n");
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, f, 3, "id 'Bad Id!' must match [a-z0-9_.-]+");
  CHECK(kb.articles.empty());
}

TEST_CASE("a duplicate id names the file that defined it first", "[loader][errors]") {
  temp_dir dir;
  const std::string first =
      dir.write("a/first.md", article_text("shipping-costs", "How much is shipping?"));
  const std::string second = dir.write(
      "b/second.md", "---\ntitle: Shipping prices\nid: shipping-costs\n---\nSee the table.\n");
  const kb_files kb = load(dir);
  CHECK(kb.errors.size() == 1);
  CHECK_KB_ERROR(kb.errors, second, 3,
                 "duplicate id 'shipping-costs' (first defined at " + first + ":2)");
  REQUIRE(kb.articles.size() == 1);
  CHECK(kb.articles[0].file == first);
  CHECK(kb.articles[0].title == "How much is shipping?");
}

TEST_CASE("bad front matter YAML is reported at its line in the file", "[loader][errors]") {
  temp_dir dir;
  const std::string f = dir.write("bad.md",
                                  "---\n"               // 1
                                  "id: bad\n"           // 2
                                  "title: Hello\n"      // 3
                                  "questions: - one\n"  // 4: illegal block entry
                                  "---\n"
                                  "Body.\n");
  const std::string g = dir.write("worse.md",
                                  "---\n"            // 1
                                  "id: worse\n"      // 2
                                  "title: Hello\n"   // 3
                                  "tags: [a]\n"      // 4
                                  "  bad: indent\n"  // 5: illegal map value
                                  "---\n"
                                  "Body.\n");
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, f, 4, "bad front matter");
  CHECK_KB_ERROR(kb.errors, g, 5, "bad front matter");
  CHECK(kb.errors.size() == 2);
  CHECK(kb.articles.empty());
}

TEST_CASE("front matter must open on line 1 and be closed", "[loader][errors]") {
  temp_dir dir;
  const std::string unclosed =
      dir.write("unclosed.md", "---\nid: unclosed\ntitle: Hi\n\nThe body, never closed.\n");
  const std::string none = dir.write("none.md", "# Just Markdown\n\nNo front matter.\n");
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, unclosed, 1, "front matter is not closed by a line '---'");
  CHECK_KB_ERROR(kb.errors, none, 1, "an article starts with front matter");
  CHECK(kb.articles.empty());
}

TEST_CASE("unknown front-matter keys are errors at their line, every one of them",
          "[loader][errors]") {
  temp_dir dir;
  const std::string f = dir.write("keys.md",
                                  "---\n"               // 1
                                  "id: keys\n"          // 2
                                  "colour: red\n"       // 3
                                  "title: Hi\n"         // 4
                                  "question: [typo]\n"  // 5
                                  "---\n"
                                  "Body.\n");
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, f, 3, "unknown key 'colour' (expected id, title, questions, tags)");
  CHECK_KB_ERROR(kb.errors, f, 5, "unknown key 'question'");
  CHECK(kb.errors.size() == 2);
  CHECK(kb.articles.empty());
}

TEST_CASE("questions and tags must be lists of text", "[loader][errors]") {
  temp_dir dir;
  const std::string f = dir.write("lists.md",
                                  "---\n"              // 1
                                  "id: lists\n"        // 2
                                  "title: Hi\n"        // 3
                                  "questions:\n"       // 4
                                  "  - fine\n"         // 5
                                  "  - {not: text}\n"  // 6
                                  "tags: {a: b}\n"     // 7
                                  "---\n"
                                  "Body.\n");
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, f, 6, "questions: expected text items");
  CHECK_KB_ERROR(kb.errors, f, 7, "tags: expected a list");
}

TEST_CASE("an article needs answer text after the front matter", "[loader][errors]") {
  temp_dir dir;
  const std::string f = dir.write("empty.md", "---\nid: empty\ntitle: Hi\n---\n\n   \n");
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, f, 4, "no answer text");
  CHECK(kb.articles.empty());
}

TEST_CASE("CSV variants are added to their article", "[loader][csv]") {
  temp_dir dir;
  dir.write("returns.md",
            article_text("returns-policy", "What is your return policy?", {"can I send it back"}));
  dir.write("shipping.md", article_text("shipping-costs", "How much is shipping?"));
  dir.write("more/variants.csv",
            "article,question\n"
            "returns-policy,do I pay for return postage\n"
            "shipping-costs,\"free delivery, over what amount?\"\n"
            "\n"
            "returns-policy,  30 day return policy?  \n");
  dir.write("other.csv",
            "\xEF\xBB\xBF"
            "article,question\r\nshipping-costs,\"what does \"\"standard\"\" cost\"\r\n");
  const kb_files kb = load(dir);
  INFO(all_messages(kb.errors));
  REQUIRE(kb.errors.empty());
  CHECK(kb.files == 4);
  const article* r = find(kb, "returns-policy");
  const article* s = find(kb, "shipping-costs");
  REQUIRE(r != nullptr);
  REQUIRE(s != nullptr);
  CHECK(r->questions == std::vector<std::string>{"can I send it back",
                                                 "do I pay for return postage",
                                                 "30 day return policy?"});
  // Files in path order: more/variants.csv before other.csv.
  CHECK(s->questions == std::vector<std::string>{"free delivery, over what amount?",
                                                 "what does \"standard\" cost"});
}

TEST_CASE("a CSV row naming an unknown article is an error at the row's line",
          "[loader][csv][errors]") {
  temp_dir dir;
  dir.write("a.md", article_text("known", "Known article"));
  const std::string csv = dir.write("variants.csv",
                                    "article,question\n"        // 1
                                    "known,fine\n"              // 2
                                    "\"known\",\"two\n"         // 3: a quoted field over two lines
                                    "lines\"\n"                 // 4
                                    "unknwon,typo in the id\n"  // 5
                                    "known,also fine\n");       // 6
  const kb_files kb = load(dir);
  CHECK(kb.errors.size() == 1);
  CHECK_KB_ERROR(kb.errors, csv, 5, "unknown article 'unknwon'");
  REQUIRE(kb.articles.size() == 1);
  CHECK(kb.articles[0].questions == std::vector<std::string>{"fine", "two\nlines", "also fine"});
}

TEST_CASE("a CSV needs the header article,question", "[loader][csv][errors]") {
  temp_dir dir;
  dir.write("a.md", article_text("known", "Known article"));
  const std::string wrong = dir.write("wrong.csv", "id,text\nknown,hello\n");
  const std::string three = dir.write("three.csv", "article,question,extra\nknown,hello,x\n");
  const std::string empty = dir.write("empty.csv", "");
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, wrong, 1, "the header must be 'article,question'");
  CHECK_KB_ERROR(kb.errors, three, 1, "the header must be 'article,question'");
  CHECK_KB_ERROR(kb.errors, empty, 1, "empty file");
  REQUIRE(kb.articles.size() == 1);
  CHECK(kb.articles[0].questions.empty());
}

TEST_CASE("CSV rows with a wrong field count or no question are errors at their line",
          "[loader][csv][errors]") {
  temp_dir dir;
  dir.write("a.md", article_text("known", "Known article"));
  const std::string csv = dir.write("v.csv",
                                    "article,question\n"  // 1
                                    "known,one,two\n"     // 2
                                    "known\n"             // 3
                                    "known,   \n"         // 4
                                    "known,kept\n");      // 5
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, csv, 2, "expected 2 fields (article,question), got 3");
  CHECK_KB_ERROR(kb.errors, csv, 3, "expected 2 fields (article,question), got 1");
  CHECK_KB_ERROR(kb.errors, csv, 4, "empty question");
  CHECK(kb.errors.size() == 3);
  REQUIRE(kb.articles.size() == 1);
  CHECK(kb.articles[0].questions == std::vector<std::string>{"kept"});
}

TEST_CASE("an unterminated quoted CSV field is an error at the line it opens",
          "[loader][csv][errors]") {
  temp_dir dir;
  dir.write("a.md", article_text("known", "Known article"));
  const std::string csv = dir.write("v.csv",
                                    "article,question\n"      // 1
                                    "known,fine\n"            // 2
                                    "known,\"never closed\n"  // 3
                                    "known,swallowed\n");     // 4
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, csv, 3, "unterminated quoted field");
}

TEST_CASE("synonyms.yaml is read into groups of normalised words", "[loader][synonyms]") {
  temp_dir dir;
  dir.write("a.md", article_text("known", "Known article"));
  dir.write("synonyms.yaml",
            "# comment\n"
            "synonyms:\n"
            "  - [Parcel, package, shipment]\n"
            "  - [refund, Money Back]\n");
  const kb_files kb = load(dir);
  INFO(all_messages(kb.errors));
  REQUIRE(kb.errors.empty());
  CHECK(kb.files == 1);  // synonyms.yaml is not an article or variants file
  CHECK(kb.synonyms == synonym_groups{{"parcel", "package", "shipment"}, {"refund", "money back"}});
}

TEST_CASE("a malformed synonyms.yaml is an error at its line", "[loader][synonyms][errors]") {
  temp_dir dir;
  dir.write("a.md", article_text("known", "Known article"));
  const std::string syn = dir.file("synonyms.yaml");

  SECTION("bad YAML") {
    dir.write("synonyms.yaml",
              "# comment\n"              // 1
              "synonyms:\n"              // 2
              "  - [parcel, package]\n"  // 3
              "  - a: b: c\n");          // 4: illegal map value
    const kb_files kb = load(dir);
    CHECK(kb.errors.size() == 1);
    CHECK_KB_ERROR(kb.errors, syn, 4, "illegal map value");
  }
  SECTION("no synonyms key") {
    dir.write("synonyms.yaml", "groups:\n  - [parcel, package]\n");
    const kb_files kb = load(dir);
    CHECK_KB_ERROR(kb.errors, syn, 1, "expected 'synonyms:' with a list of groups");
  }
  SECTION("an extra key") {
    dir.write("synonyms.yaml", "synonyms:\n  - [parcel, package]\nextra: 1\n");
    const kb_files kb = load(dir);
    CHECK_KB_ERROR(kb.errors, syn, 1, "expected 'synonyms:'");
  }
  SECTION("a group that is not a list of 2 or more") {
    dir.write("synonyms.yaml",
              "synonyms:\n"              // 1
              "  - [parcel, package]\n"  // 2
              "  - lonely\n"             // 3
              "  - [alone]\n");          // 4
    const kb_files kb = load(dir);
    CHECK_KB_ERROR(kb.errors, syn, 3, "a synonym group is a list of 2 or more words");
    CHECK_KB_ERROR(kb.errors, syn, 4, "a synonym group is a list of 2 or more words");
    CHECK(kb.synonyms == synonym_groups{{"parcel", "package"}});
  }
}

TEST_CASE("a missing kb folder is an empty KB, a file is not a folder", "[loader]") {
  temp_dir dir;
  kb_files kb = load_kb_dir(dir.file("no-such-folder"), kb_limits{});
  CHECK(kb.errors.empty());
  CHECK(kb.articles.empty());
  CHECK(kb.files == 0);

  const std::string f = dir.write("plain.txt", "x");
  kb = load_kb_dir(f, kb_limits{});
  CHECK(kb.errors == std::vector<std::string>{f + ": not a folder"});

  // An empty folder, and hidden files and folders, are empty too.
  dir.write(".git/x.md", "not an article");
  dir.write(".draft.md", "not an article");
  kb = load(dir);
  CHECK(kb.errors.empty());
  CHECK(kb.articles.empty());
  CHECK(kb.files == 0);
}

TEST_CASE("limits: file size and article count", "[loader][limits]") {
  temp_dir dir;
  const std::string big =
      dir.write("big.md", article_text("big", "Big", {}, std::string(2000, 'x')));
  dir.write("small.md", article_text("small", "Small"));
  kb_limits limits;
  limits.file_bytes = 1000;
  kb_files kb = load_kb_dir(dir.str(), limits);
  CHECK_KB_ERROR(kb.errors, big, 1, "over limits.rule_file_bytes (1000)");
  REQUIRE(kb.articles.size() == 1);
  CHECK(kb.articles[0].id == "small");

  limits = kb_limits{};
  limits.max_articles = 1;
  kb = load_kb_dir(dir.str(), limits);
  CHECK(kb.articles.size() == 1);
  CHECK(count_errors(kb.errors, dir.file("small.md"), "more than 1 articles") == 1);
}

TEST_CASE("a file that is not UTF-8 is an error", "[loader][errors]") {
  temp_dir dir;
  const std::string f = dir.write("latin1.md", article_text("latin1", "Caf\xe9 opening hours"));
  const kb_files kb = load(dir);
  CHECK_KB_ERROR(kb.errors, f, 1, "not valid UTF-8");
}

TEST_CASE("every error of a run is listed, not just the first", "[loader][errors]") {
  temp_dir dir;
  const std::string no_id = dir.write("a/no-id.md", "---\ntitle: Hi\n---\nBody.\n");
  const std::string unknown =
      dir.write("b/unknown-key.md", "---\nid: b\ntitle: Hi\ncolour: red\n---\nBody.\n");
  const std::string unclosed = dir.write("c/unclosed.md", "---\nid: c\ntitle: Hi\n");
  const std::string good = dir.write("d/good.md", article_text("good", "Good article"));
  const std::string dup = dir.write("e/dup.md", article_text("good", "Again"));
  const std::string csv = dir.write("v.csv", "article,question\ngood,fine\nnobody,who\n");
  const std::string header = dir.write("w.csv", "question,article\n");
  const std::string syn = dir.write("synonyms.yaml", "synonyms: nope\n");
  const kb_files kb = load(dir);
  INFO(all_messages(kb.errors));
  CHECK(kb.errors.size() == 7);
  CHECK(has_error(kb.errors, no_id + ":2", "missing id"));
  CHECK(has_error(kb.errors, unknown + ":4", "unknown key 'colour'"));
  CHECK(has_error(kb.errors, unclosed + ":1", "not closed"));
  CHECK(has_error(kb.errors, dup + ":2", "duplicate id 'good' (first defined at " + good + ":2)"));
  CHECK(has_error(kb.errors, csv + ":3", "unknown article 'nobody'"));
  CHECK(has_error(kb.errors, header + ":1", "the header must be 'article,question'"));
  CHECK(has_error(kb.errors, syn + ":1", "expected 'synonyms:'"));
  // What did load is still there: the good article with its CSV variant.
  REQUIRE(kb.articles.size() == 1);
  CHECK(kb.articles[0].questions == std::vector<std::string>{"fine"});
}
