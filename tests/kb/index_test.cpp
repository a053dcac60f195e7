// kb_index (DESIGN 2, 4, 5): search over a small in-memory knowledge base.
// Ranking of titles and paraphrases, synonyms, typo tolerance, determinism,
// confidences in [0,1], messages about something else, hostile and odd
// input (visitor text never reaches FTS5 MATCH syntax), and stats.
#include "bot/kb/index.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "bot/core/text.hpp"
#include "tests/kb/kb_files.hpp"

using namespace bot;
using namespace bot::kb;
using bot::kb::test::make_article;

namespace {

// A small shop: eleven articles of five variants each (title + four
// questions), in English, Russian and Chinese.
kb_files shop(bool with_synonyms = true) {
  kb_files f;
  f.articles.push_back(make_article("order-tracking", "How do I track my order?",
                                    {"where is my parcel", "has my order shipped yet",
                                     "tracking number for my order", "order status"},
                                    "Use the tracking link in your confirmation e-mail."));
  f.articles.push_back(
      make_article("returns-policy", "What is your return policy?",
                   {"can I send something back", "how long do I have to return an item",
                    "are returns free", "return window"},
                   "Unused items within 30 days, free label."));
  f.articles.push_back(make_article(
      "refund-timing", "How long does a refund take?",
      {"when will I get my refund", "refund not received yet", "refund to paypal", "refund status"},
      "Five to seven business days after we receive the item."));
  f.articles.push_back(make_article("shipping-costs", "How much does shipping cost?",
                                    {"shipping price", "is delivery free",
                                     "cost of express shipping", "shipping fees for my order"},
                                    "Standard shipping is free over $75."));
  // The body does not say "password": a column filter body:password finds nothing.
  f.articles.push_back(make_article("reset-password", "How do I reset my password?",
                                    {"forgot my password", "can't log in to my account",
                                     "password reset email never came", "change my login password"},
                                    "Use the link on the sign-in page."));
  f.articles.push_back(make_article(
      "gift-cards", "How do gift cards work?",
      {"buy a gift card", "check gift card balance", "gift card expiry", "use a gift card online"},
      "Gift cards never expire."));
  f.articles.push_back(make_article("warranty", "What warranty do you offer?",
                                    {"my jacket zipper broke", "is my tent under warranty",
                                     "warranty claim", "faulty boots after two months"},
                                    "Two years on everything we sell."));
  f.articles.push_back(make_article(
      "store-hours", "When is the store open?",
      {"opening hours", "are you open on sunday", "store hours today", "what time do you close"},
      "Monday to Saturday, 9 to 7."));
  f.articles.push_back(make_article("newsletter", "How do I unsubscribe from the newsletter?",
                                    {"stop sending me emails", "too many marketing emails",
                                     "unsubscribe link", "opt out of promotions"},
                                    "Follow the unsubscribe link at the bottom of any e-mail."));
  f.articles.push_back(make_article(
      "ru-order", "Где мой заказ?",
      {"статус заказа", "когда придёт мой заказ", "отследить заказ", "заказ не пришёл"},
      "Ссылка для отслеживания в письме."));
  f.articles.push_back(make_article("zh-returns", "退货政策",
                                    {"我想退货", "怎么退货", "退货需要多久", "可以退货吗"},
                                    "三十天内可以退货。"));
  if (with_synonyms)
    f.synonyms = {{"parcel", "package", "shipment"}, {"refund", "money back", "reimbursement"}};
  return f;
}

std::shared_ptr<const kb_index> build(kb_files f, const kb_options& opt = {}) {
  auto r = kb_index::build(std::move(f), opt);
  INFO(r.error().message());
  REQUIRE(r.ok());
  return r.value();
}

std::string top_id(const std::vector<kb_match>& m) {
  return m.empty() ? std::string("(none)") : m[0].art->id;
}

std::string describe(const std::vector<kb_match>& ms) {
  std::string out;
  for (const auto& m : ms) {
    out += m.art->id + " conf=" + std::to_string(m.confidence) +
           " p=" + std::to_string(m.probability) + " sim=" + std::to_string(m.similarity) +
           " nearest='" + m.nearest + "'";
    for (const auto& c : m.corrected) out += " corrected:" + c;
    out += "\n";
  }
  return out.empty() ? "(no results)\n" : out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Checks the invariants every result list keeps, whatever the input.
void check_well_formed(const kb_index& idx, const std::vector<kb_match>& ms, std::size_t limit) {
  INFO(describe(ms));
  CHECK(ms.size() <= limit);
  double sum_p = 0;
  for (std::size_t i = 0; i < ms.size(); ++i) {
    const kb_match& m = ms[i];
    REQUIRE(m.art != nullptr);
    CHECK(idx.find(m.art->id) == m.art);
    CHECK(m.confidence >= 0.0);
    CHECK(m.confidence <= 1.0);
    CHECK(m.probability >= 0.0);
    CHECK(m.probability <= 1.0);
    CHECK(m.calibrated >= 0.0);
    CHECK(m.calibrated <= 1.0);
    CHECK(m.coverage >= 0.0);
    CHECK(m.coverage <= 1.0);
    CHECK(m.similarity >= -1e-6);
    CHECK(m.similarity <= 1.0 + 1e-6);
    if (i > 0) CHECK(ms[i - 1].confidence >= m.confidence);
    sum_p += m.probability;
    CHECK(core::is_valid_utf8(m.nearest));
    for (const auto& t : m.terms) CHECK(core::is_valid_utf8(t));
    for (const auto& c : m.corrected) CHECK(core::is_valid_utf8(c));
  }
  CHECK(sum_p <= 1.0 + 1e-9);
}

}  // namespace

TEST_CASE("each article's own title ranks it first", "[index]") {
  const auto idx = build(shop());
  REQUIRE(idx->articles().size() == 11);
  for (const auto& a : idx->articles()) {
    const auto ms = idx->search(a.title);
    INFO(a.title << "\n" << describe(ms));
    CHECK(top_id(ms) == a.id);
    check_well_formed(*idx, ms, 5);
  }
}

TEST_CASE("paraphrases rank the right article", "[index]") {
  const auto idx = build(shop());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"I'd like to send these boots back", "returns-policy"},
      {"my order hasn't shipped, what's the tracking number?", "order-tracking"},
      {"I forgot the password for my account", "reset-password"},
      {"how much do you charge for express delivery", "shipping-costs"},
      {"what's the balance on my gift card", "gift-cards"},
      {"the zipper on my jacket broke after a month", "warranty"},
      {"what time does the store close on sunday", "store-hours"},
      {"please stop the marketing emails", "newsletter"},
      {"I still have not received my refund", "refund-timing"},
  };
  for (const auto& [text, want] : cases) {
    const auto ms = idx->search(text);
    INFO(text << "\n" << describe(ms));
    CHECK(top_id(ms) == want);
    REQUIRE_FALSE(ms.empty());
    // The explanation: the shared terms and the nearest variant of that article.
    CHECK_FALSE(ms[0].terms.empty());
    const article& a = *ms[0].art;
    CHECK((ms[0].nearest == a.title || contains(a.questions, ms[0].nearest)));
  }
}

TEST_CASE("a synonym in the message reaches an article that uses the canonical word",
          "[index][synonyms]") {
  // order-tracking says "parcel" (the canonical word); nothing says "shipment".
  const auto with = build(shop(true));
  auto ms = with->search("where is my shipment");
  INFO(describe(ms));
  CHECK(top_id(ms) == "order-tracking");
  REQUIRE_FALSE(ms.empty());
  CHECK(contains(ms[0].terms, "parcel"));
  CHECK(ms[0].nearest == "where is my parcel");
  CHECK(ms[0].coverage == 1.0);

  // A phrase synonym: "money back" is "refund".
  ms = with->search("when do I get my money back");
  INFO(describe(ms));
  CHECK(top_id(ms) == "refund-timing");
  REQUIRE_FALSE(ms.empty());
  CHECK(contains(ms[0].terms, "refund"));

  // The synonym alone is enough.
  ms = with->search("shipment?");
  INFO(describe(ms));
  CHECK(top_id(ms) == "order-tracking");

  // The same KB without synonyms does not know "shipment".
  const auto without = build(shop(false));
  ms = without->search("where is my shipment");
  INFO("without synonyms:\n" << describe(ms));
  REQUIRE_FALSE(ms.empty());
  CHECK(ms[0].coverage == 0.0);
  for (const auto& m : ms) CHECK_FALSE(contains(m.terms, "parcel"));
  ms = without->search("shipment?");
  INFO("without synonyms:\n" << describe(ms));
  CHECK(top_id(ms) != "order-tracking");
}

TEST_CASE("a misspelled word is corrected to a known word and reported", "[index][typos]") {
  const auto idx = build(shop());
  auto ms = idx->search("how much is shiping");
  INFO(describe(ms));
  CHECK(top_id(ms) == "shipping-costs");
  REQUIRE_FALSE(ms.empty());
  CHECK(ms[0].corrected == std::vector<std::string>{"shiping→shipping"});
  CHECK(contains(ms[0].terms, analyzer::stem("shipping")));

  // A missing letter, and distance 2 for a long word (a letter moved).
  ms = idx->search("I forgot my pasword");
  INFO(describe(ms));
  CHECK(top_id(ms) == "reset-password");
  REQUIRE_FALSE(ms.empty());
  CHECK(ms[0].corrected == std::vector<std::string>{"pasword→password"});
  ms = idx->search("how do I unsubscibre");
  INFO(describe(ms));
  CHECK(top_id(ms) == "newsletter");
  REQUIRE_FALSE(ms.empty());
  CHECK(ms[0].corrected == std::vector<std::string>{"unsubscibre→unsubscribe"});
  // A transposition in a short word.
  ms = idx->search("gfit card balance");
  INFO(describe(ms));
  CHECK(top_id(ms) == "gift-cards");
  REQUIRE_FALSE(ms.empty());
  CHECK(ms[0].corrected == std::vector<std::string>{"gfit→gift"});

  // A misspelled synonym is corrected to it, then to its group's first word.
  ms = idx->search("where is my pakage");
  INFO(describe(ms));
  CHECK(top_id(ms) == "order-tracking");
  REQUIRE_FALSE(ms.empty());
  CHECK(ms[0].corrected == std::vector<std::string>{"pakage→package"});
  CHECK(contains(ms[0].terms, "parcel"));
  CHECK(ms[0].coverage == 1.0);
  CHECK(ms[0].confidence >= 0.6);
  ms = idx->search("my reimbursment");
  INFO(describe(ms));
  CHECK(top_id(ms) == "refund-timing");
  REQUIRE_FALSE(ms.empty());
  CHECK(ms[0].corrected == std::vector<std::string>{"reimbursment→reimbursement"});

  // Known words and short words are left alone.
  ms = idx->search("gift card balance");
  REQUIRE_FALSE(ms.empty());
  CHECK(ms[0].corrected.empty());
  ms = idx->search("gft card");
  REQUIRE_FALSE(ms.empty());
  CHECK(ms[0].corrected.empty());  // words under 4 letters are never corrected
  // Two edits in a short word are too many.
  ms = idx->search("passwrd gfitt");
  for (const auto& m : ms) CHECK(m.corrected == std::vector<std::string>{"passwrd→password"});
}

TEST_CASE("two builds of the same files search identically", "[index][determinism]") {
  const auto a = build(shop());
  const auto b = build(shop());
  CHECK(a->stats().train_accuracy == b->stats().train_accuracy);
  CHECK(a->stats().held_out == b->stats().held_out);
  CHECK(a->stats().vocabulary == b->stats().vocabulary);
  const std::vector<std::string> queries = {"where is my order",
                                            "refund",
                                            "can I return it",
                                            "shiping cost",
                                            "password",
                                            "store",
                                            "gift",
                                            "my tent leaks",
                                            "hello",
                                            "where is my shipment",
                                            "Где мой заказ",
                                            "退货",
                                            "zzz qqq",
                                            ""};
  for (const auto& q : queries) {
    const auto ra = a->search(q, 11);
    const auto rb = b->search(q, 11);
    INFO(q << "\n" << describe(ra) << "vs\n" << describe(rb));
    REQUIRE(ra.size() == rb.size());
    for (std::size_t i = 0; i < ra.size(); ++i) {
      CHECK(ra[i].art->id == rb[i].art->id);
      CHECK(ra[i].confidence == rb[i].confidence);
      CHECK(ra[i].probability == rb[i].probability);
      CHECK(ra[i].nearest == rb[i].nearest);
    }
    const auto fa = a->fts_search(q, 5);
    const auto fb = b->fts_search(q, 5);
    REQUIRE(fa.size() == fb.size());
    for (std::size_t i = 0; i < fa.size(); ++i) {
      CHECK(fa[i].first->id == fb[i].first->id);
      CHECK(fa[i].second == fb[i].second);
    }
  }
  // Searching again on the same index gives the same answer (no state kept).
  CHECK(a->search("where is my order")[0].confidence ==
        a->search("where is my order")[0].confidence);
}

TEST_CASE("confidences are in [0,1], best first, and the top is the highest",
          "[index][confidence]") {
  const auto idx = build(shop());
  for (const std::string q :
       {"How do I track my order?", "return", "order", "my order is late and I want a refund",
        "gift card", "open", "where", "a b c"}) {
    const auto ms = idx->search(q, 11);
    INFO(q);
    check_well_formed(*idx, ms, 11);
    for (const auto& m : ms) CHECK(ms[0].confidence >= m.confidence);
  }
  // An exact title is confident; a lone word shared by several articles is not
  // confidently one of them.
  const auto exact = idx->search("How do I reset my password?");
  REQUIRE_FALSE(exact.empty());
  CHECK(exact[0].confidence >= 0.6);
  const auto limit1 = idx->search("How do I reset my password?", 1);
  REQUIRE(limit1.size() == 1);
  CHECK(limit1[0].confidence == exact[0].confidence);
  CHECK(idx->search("order", 0).empty());
}

TEST_CASE("a message about something else finds nothing or has low confidence",
          "[index][confidence]") {
  const auto idx = build(shop());
  for (const std::string q :
       {"quantum chromodynamics lecture", "xyzzy plugh",
        "what is the airspeed velocity of a swallow", "overdraft fee on my mortgage"}) {
    const auto ms = idx->search(q);
    INFO(q << "\n" << describe(ms));
    check_well_formed(*idx, ms, 5);
    if (!ms.empty()) CHECK(ms[0].confidence < 0.35);
  }
  // Nothing at all in common: no candidates.
  CHECK(idx->search("zzqxj vvkpw").empty());
  CHECK(idx->fts_search("zzqxj vvkpw", 5).empty());
}

TEST_CASE("visitor text never reaches FTS5 MATCH syntax", "[index][fts][bad-input]") {
  const auto idx = build(shop());
  // Each of these, passed to MATCH as written, is a syntax error, a column
  // filter or an operator; quoted term by term they are plain words.
  const std::vector<std::string> hostile = {"password\"",         "\"password",
                                            "password*",          "*password",
                                            "NEAR(password",      "NEAR(password reset, 2)",
                                            "password OR",        "OR password",
                                            "password AND NOT",   "-password",
                                            "^password",          "password:",
                                            ":password",          "body:password",
                                            "title:x password",   "{title body}: password",
                                            "questions:password", "(password",
                                            "password)",          "password +",
                                            "password'",          "'password'",
                                            "password\\",         "password;--",
                                            "password \"\" AND"};
  for (const auto& q : hostile) {
    const auto fts = idx->fts_search(q, 5);
    INFO("fts_search(" << q << ")");
    REQUIRE_FALSE(fts.empty());
    CHECK(fts[0].first->id == "reset-password");
    for (const auto& [a, bm25] : fts) CHECK(bm25 < 0);
    const auto ms = idx->search(q);
    INFO(describe(ms));
    CHECK(top_id(ms) == "reset-password");
    check_well_formed(*idx, ms, 5);
  }
  // Operators and punctuation alone: a defined, empty or ordinary result.
  for (const std::string q : {"\"", "*", "NEAR(", "OR", "AND", "NOT", "-", "^", ":", "title:", "(",
                              ")", "\"\"", "{", "NEAR", "* OR *", "''"}) {
    INFO("alone: " << q);
    const auto fts = idx->fts_search(q, 5);
    CHECK(fts.size() <= 5);
    check_well_formed(*idx, idx->search(q), 5);
  }
  CHECK(idx->fts_search("\"", 5).empty());
  CHECK(idx->fts_search("*", 5).empty());
  // The limit is honoured.
  CHECK(idx->fts_search("my order password gift card store", 2).size() == 2);
}

TEST_CASE("empty, long, invalid and non-Latin messages give a defined result",
          "[index][bad-input]") {
  const auto idx = build(shop());
  for (const std::string blank : {"", " ", "\t\r\n", "\xc2\xa0\xe3\x80\x80", "\xe2\x80\x8b"}) {
    CHECK(idx->search(blank).empty());
    CHECK(idx->fts_search(blank, 5).empty());
  }

  // 4,000 characters with a request in the middle.
  std::string long_text;
  while (long_text.size() < 1990) long_text += "blah ";
  long_text += " I forgot my password ";
  while (long_text.size() < 4000) long_text += "blah ";
  long_text.resize(4000);
  const auto t0 = std::chrono::steady_clock::now();
  auto ms = idx->search(long_text);
  const auto took = std::chrono::steady_clock::now() - t0;
  check_well_formed(*idx, ms, 5);
  CHECK(top_id(ms) == "reset-password");
  CHECK(took < std::chrono::seconds(1));
  CHECK(idx->fts_search(long_text, 5).size() <= 5);
  // 4,000 distinct unknown words.
  std::string noise;
  for (int i = 0; noise.size() < 4000; ++i) noise += "w" + std::to_string(i * 7919) + "x ";
  check_well_formed(*idx, idx->search(noise), 5);

  // Invalid UTF-8 is read as U+FFFD; the output stays valid UTF-8.
  ms = idx->search("\xff forgot my \xc0\xaf pasword\xe2\x82");
  check_well_formed(*idx, ms, 5);
  CHECK(top_id(ms) == "reset-password");
  check_well_formed(*idx, idx->search("\xed\xa0\x80\xff\xfe"), 5);
  CHECK(idx->fts_search("\xff\xfe password", 5).size() >= 1);

  // Emoji around words, and emoji alone.
  ms = idx->search("\xf0\x9f\x94\x91 forgot my password \xf0\x9f\x94\x91");
  CHECK(top_id(ms) == "reset-password");
  check_well_formed(*idx, idx->search("\xf0\x9f\x98\x80\xf0\x9f\x98\x80"), 5);

  // Cyrillic and Chinese find their articles.
  ms = idx->search("где мой заказ");
  INFO(describe(ms));
  CHECK(top_id(ms) == "ru-order");
  ms = idx->search("ГДЕ МОЙ ЗАКАЗ?");
  INFO(describe(ms));
  CHECK(top_id(ms) == "ru-order");
  ms = idx->search("退货政策");
  INFO(describe(ms));
  CHECK(top_id(ms) == "zh-returns");
  check_well_formed(*idx, idx->search("我的订单在哪里"), 5);
  CHECK(idx->fts_search("заказ", 5).size() == 1);
}

TEST_CASE("stats count articles, variants and held-out variants", "[index][stats]") {
  kb_files f = shop();
  // One more article with nine variants (two held out), one with three (none).
  f.articles.push_back(make_article(
      "big", "Do you price match?",
      {"price match", "cheaper elsewhere", "beat a competitor's price", "lower price online",
       "price guarantee", "found it cheaper", "match amazon price", "refund the price difference"},
      "Yes, within 14 days."));
  f.articles.push_back(make_article("small", "Do you sell bikes?", {"bicycles", "e-bikes"}, "No."));
  const auto idx = build(std::move(f));
  const kb_stats& st = idx->stats();
  CHECK(st.articles == 13);
  CHECK(st.variants == 11 * 5 + 9 + 3);
  // Every fifth variant of articles with 4 or more: one per shop article, one for "big".
  CHECK(st.held_out == 11 + 1);
  CHECK(st.synonym_groups == 2);
  CHECK(st.vocabulary > 50);
  CHECK(st.train_accuracy >= 0.9);
  CHECK(st.train_accuracy <= 1.0);
  CHECK(st.build_ms > 0);
  CHECK(idx->find("big") == &idx->articles()[11]);
  CHECK(idx->find("nope") == nullptr);
}

TEST_CASE("an empty knowledge base builds and finds nothing", "[index]") {
  const auto idx = build(kb_files{});
  CHECK(idx->articles().empty());
  CHECK(idx->stats().articles == 0);
  CHECK(idx->stats().variants == 0);
  CHECK(idx->stats().train_accuracy == 0);
  CHECK(idx->search("where is my order").empty());
  CHECK(idx->fts_search("where is my order", 5).empty());
  CHECK(idx->find("anything") == nullptr);
}

TEST_CASE("features are the hashes of their unigram, bigram and character n-gram texts",
          "[index][analyzer]") {
  analyzed a;
  a.words = {"tents", "leak"};
  a.stems = {"tent", "leak"};
  feature_counts words, chars;
  analyzer::features_of(a, words, chars);
  CHECK(words.size() == 3);
  CHECK(words.at(hash_feature("w", "tent")) == 1.0f);
  CHECK(words.at(hash_feature("w", "leak")) == 1.0f);
  CHECK(words.at(hash_feature("b", "tent leak")) == 1.0f);
  // "<tents>" has 5 trigrams and 4 four-grams, "<leak>" 4 and 3: 16, all distinct.
  CHECK(chars.size() == 16);
  for (const char* g : {"<te", "ten", "ent", "nts", "ts>", "<ten", "tent", "ents", "nts>", "<le", "lea",
                        "eak", "ak>", "<lea", "leak", "eak>"}) {
    INFO(g);
    CHECK(chars.count(hash_feature("c", g)) == 1);
  }
  // A repeated gram counts twice.
  analyzed twice;
  twice.words = {"aaaa"};
  twice.stems = {"aaaa"};
  feature_counts w2, c2;
  analyzer::features_of(twice, w2, c2);
  CHECK(c2.at(hash_feature("c", "aaa")) == 2.0f);
  CHECK(c2.at(hash_feature("c", "<aa")) == 1.0f);
}
