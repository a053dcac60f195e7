// Matching: one RE2::Set pass on normalised text, per-pattern RE2 on the
// hits for the confidence, slots from the original text; excludes,
// requires_context, ordering; the memory budget; hostile input.
#include "bot/intents/rule_set.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bot/intents/loader.hpp"
#include "tests/intents/rule_files.hpp"

using namespace bot::intents;
using bot::intents::test::all_messages;
using bot::intents::test::temp_dir;

namespace {

using rules_ptr = std::shared_ptr<const rule_set>;

rules_ptr load_ok(const temp_dir& dir, const rule_limits& limits = rule_limits{}) {
  const load_result r = load_intents_dir(dir.str(), limits);
  INFO(all_messages(r.errors));
  REQUIRE(r.errors.empty());
  REQUIRE(r.rules);
  return r.rules;
}

// One YAML file in a fresh folder, loaded.
struct loaded {
  explicit loaded(const std::string& yaml, const rule_limits& limits = rule_limits{}) {
    dir.write("rules.yaml", yaml);
    rules = load_ok(dir, limits);
  }
  temp_dir dir;
  rules_ptr rules;
};

std::vector<intent_match> match_ok(const rule_set& rs, std::string_view text,
                                   const context_map& ctx = {}) {
  auto m = rs.match(text, ctx);
  INFO("match failed: " << m.error().to_string());
  REQUIRE(m.ok());
  return std::move(m).value();
}

std::vector<std::string> ids(const std::vector<intent_match>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.push_back(m.rule->id);
  return out;
}

const intent_match* find_match(const std::vector<intent_match>& ms, const std::string& id) {
  for (const auto& m : ms) {
    if (m.rule->id == id) return &m;
  }
  return nullptr;
}

intent make_intent(const std::string& id, const std::string& pattern, std::size_t order) {
  intent in;
  in.id = id;
  weighted_pattern p;
  p.regex = pattern;
  in.patterns.push_back(p);
  response r;
  r.texts.push_back("ok");
  in.responses.push_back(r);
  in.order = order;
  return in;
}

template <typename F>
std::chrono::steady_clock::duration timed(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::steady_clock::now() - start;
}

const char* const k_orders = R"(intents:
  - id: order_status
    description: Where is my order?
    patterns:
      - '\bwhere is my (order|package)\b'
      - '\bhasn''t arrived\b'
    slots:
      order_id: '(?P<order_id>\b[A-Z]{2}-?\d{5,8}\b)'
    responses: [ok]
)";

}  // namespace

TEST_CASE("patterns match case-insensitively on normalised text", "[match]") {
  loaded l(k_orders);
  const rule_set& rs = *l.rules;
  for (const std::string text :
       {"where is my order", "WHERE IS MY ORDER?",
        "Where\tis   my\xc2\xa0Order",                              // tab, spaces, NBSP
        "  wHeRe Is My PaCkAgE  ", "It hasn\xe2\x80\x99t arrived",  // ’ (U+2019)
        "it hasn\xca\xbct arrived", "IT HASN'T ARRIVED!!"}) {       // ʼ (U+02BC)
    INFO(text);
    const auto ms = match_ok(rs, text);
    CHECK(ids(ms) == std::vector<std::string>{"order_status"});
  }
  CHECK(match_ok(rs, "where is my orderly queue").empty());  // \b holds
  CHECK(match_ok(rs, "where is the order").empty());
  CHECK(match_ok(rs, "it hasnt arrived").empty());  // the apostrophe is in the pattern

  const auto ms = match_ok(rs, "WHERE IS MY ORDER?");
  REQUIRE(ms.size() == 1);
  CHECK(ms[0].pattern == "\\bwhere is my (order|package)\\b");
  CHECK(ms[0].matched_text == "where is my order");  // normalised
}

TEST_CASE("slots are extracted from the original text and keep its case", "[match]") {
  loaded l(k_orders);
  const rule_set& rs = *l.rules;
  auto ms = match_ok(rs, "Where is my order AB-123456?");
  REQUIRE(ms.size() == 1);
  CHECK(ms[0].slots == slot_map{{"order_id", "AB-123456"}});

  ms = match_ok(rs, "WHERE IS MY ORDER xy1234567");
  REQUIRE(ms.size() == 1);
  CHECK(ms[0].slots == slot_map{{"order_id", "xy1234567"}});  // as written, not upper-cased

  ms = match_ok(rs, "where is my order");
  REQUIRE(ms.size() == 1);
  CHECK(ms[0].slots.empty());

  // Slots are only extracted for intents that matched.
  CHECK(match_ok(rs, "AB-123456").empty());

  const intent* in = rs.find("order_status");
  REQUIRE(in);
  CHECK(rs.extract_slot(*in, "order_id", "it is Cd-98765 I think") ==
        std::optional<std::string>("Cd-98765"));
  CHECK(rs.extract_slot(*in, "order_id", "no number here") == std::nullopt);
  CHECK(rs.extract_slot(*in, "no_such_slot", "AB-123456") == std::nullopt);
}

TEST_CASE("a matching exclude removes only its intent", "[match]") {
  loaded l(R"(intents:
  - id: order_status
    patterns: ['\border\b']
    exclude: ['\bcancel\w*', '\brefund']
    responses: [ok]
  - id: cancel_order
    patterns: ['\bcancel\w*\b.*\border\b']
    responses: [ok]
  - id: any_order
    patterns: ['\border\b']
    responses: [ok]
  - id: refund
    patterns: ['\brefund\b']
    responses: [ok]
)");
  const rule_set& rs = *l.rules;
  CHECK(ids(match_ok(rs, "about my order")) ==
        std::vector<std::string>{"order_status", "any_order"});
  CHECK(ids(match_ok(rs, "CANCELLING my order")) ==
        std::vector<std::string>{"cancel_order", "any_order"});
  CHECK(ids(match_ok(rs, "refund for my order")) ==
        std::vector<std::string>{"refund", "any_order"});
  // An exclude of an intent that did not match removes nothing.
  CHECK(ids(match_ok(rs, "refund please")) == std::vector<std::string>{"refund"});
  CHECK(ids(match_ok(rs, "cancel the refund")) == std::vector<std::string>{"refund"});
}

TEST_CASE("requires_context keeps an intent out until every key is set", "[match]") {
  loaded l(R"(intents:
  - id: followup.how_long
    patterns: ['^how long( does it take)?\??$']
    requires_context: [topic, stage]
    responses: [ok]
  - id: general
    patterns: ['\bhow long\b']
    responses: [ok]
)");
  const rule_set& rs = *l.rules;
  CHECK(ids(match_ok(rs, "How long?")) == std::vector<std::string>{"general"});
  CHECK(ids(match_ok(rs, "How long?", {{"topic", "shipping"}})) ==
        std::vector<std::string>{"general"});
  const auto ms = match_ok(rs, "How long?", {{"topic", "shipping"}, {"stage", ""}});
  REQUIRE(ms.size() == 2);
  CHECK(find_match(ms, "followup.how_long") != nullptr);
}

TEST_CASE("candidates are ordered by priority, then confidence, then file order", "[match]") {
  temp_dir dir;
  // b.yaml is written first, but a.yaml comes first in file order; inside
  // a.yaml, zeta precedes alpha.
  dir.write("b.yaml", R"(intents:
  - id: b_high
    priority: 1
    patterns:
      - pattern: '\bshoe\b'
        weight: 0.5
    responses: [ok]
  - id: b_full
    patterns: ['^.*\bshoe\b.*$']
    responses: [ok]
  - id: b_negative
    priority: -1
    patterns: ['^.*\bshoe\b.*$']
    responses: [ok]
)");
  dir.write("a.yaml", R"(intents:
  - id: zeta
    patterns: ['\bshoe\b']
    responses: [ok]
  - id: alpha
    patterns: ['\bshoe\b']
    responses: [ok]
  - id: beta
    patterns: ['\bleft\b', '\bshoe\b', '\bleft foot\b']
    responses: [ok]
)");
  const auto rules = load_ok(dir);
  const auto ms = match_ok(*rules, "I need a shoe for my left foot");
  CHECK(ids(ms) ==
        std::vector<std::string>{"b_high", "b_full", "beta", "zeta", "alpha", "b_negative"});
  REQUIRE(ms.size() == 6);
  CHECK(ms[0].confidence < ms[1].confidence);  // priority beats confidence
  CHECK(ms[1].confidence == Approx(1.0));
  CHECK(ms[3].confidence == ms[4].confidence);  // a tie: file order
  // An intent's confidence is its best pattern's.
  CHECK(ms[2].pattern == "\\bleft foot\\b");
  CHECK(ms[2].confidence > ms[3].confidence);
  CHECK(rules->intents()[0].id == "zeta");
  CHECK(rules->intents()[0].order < rules->intents()[1].order);
}

TEST_CASE("confidence grows with the part of the message a pattern covers, weight scales it",
          "[match]") {
  loaded l(R"(intents:
  - id: word
    patterns: ['\border\b']
    responses: [ok]
  - id: word_half
    patterns:
      - pattern: '\border\b'
        weight: 0.5
    responses: [ok]
  - id: sentence
    patterns: ['\bwhere is my order\b']
    responses: [ok]
  - id: two_patterns
    patterns: ['^where is my order\b.*$', '\border\b', '\bmy order\b']
    responses: [ok]
)");
  const rule_set& rs = *l.rules;
  const auto conf = [&](const std::string& text, const std::string& id) {
    const auto ms = match_ok(rs, text);
    const intent_match* m = find_match(ms, id);
    REQUIRE(m != nullptr);
    return m->confidence;
  };
  // The whole message: the pattern's weight.
  CHECK(conf("order", "word") == Approx(1.0));
  CHECK(conf("ORDER", "word_half") == Approx(0.5));
  CHECK(conf("where is my order", "sentence") == Approx(1.0));

  const std::string long_text = "hello there, I would like to ask you something about an order";
  const double small = conf(long_text, "word");
  CHECK(small < conf("where is my order", "word"));
  CHECK(conf("where is my order", "word") < conf("order", "word"));
  CHECK(small > 0.0);
  CHECK(small < 1.0);
  CHECK(conf(long_text, "word_half") == Approx(small / 2));

  // The pattern that covers the message beats one that covers a part of it.
  const auto ms = match_ok(rs, "Where is my order? It was due on Monday");
  REQUIRE(ms.size() == 4);
  CHECK(ids(ms) == std::vector<std::string>{"two_patterns", "sentence", "word", "word_half"});
  CHECK(ms[0].confidence == Approx(1.0));
  CHECK(ms[1].confidence < ms[0].confidence);
  CHECK(ms[1].confidence > ms[2].confidence);
  // An intent scores its best pattern; the first of equals is reported.
  CHECK(ms[0].pattern == "^where is my order\\b.*$");
  CHECK(ms[0].matched_text == "where is my order? it was due on monday");
  const auto part = match_ok(rs, "so, where is my order, please?");
  const intent_match* two = find_match(part, "two_patterns");
  REQUIRE(two != nullptr);
  CHECK(two->pattern == "\\bmy order\\b");  // longer than \border\b
  CHECK(two->matched_text == "my order");
  for (const auto& m : ms) {
    CHECK(m.confidence > 0.0);
    CHECK(m.confidence <= 1.0);
  }
}

TEST_CASE("patterns over the RE2 memory budget are a load error", "[match][memory]") {
  // 200 patterns, each an alternation of 40 six-letter words: ~100k
  // instructions, far more than fit in 1 MiB.
  std::vector<intent> many;
  std::mt19937 gen(42);
  const auto word = [&] {
    std::string w;
    for (int c = 0; c < 6; ++c) w += static_cast<char>('a' + gen() % 26);
    return w;
  };
  std::string hit;  // a message for intent i17
  for (std::size_t i = 0; i < 200; ++i) {
    std::string p = "\\b(";
    for (int w = 0; w < 20; ++w) {
      const std::string first = word();
      if (i == 17 && w == 3) hit = first + " and then ";
      p += (w ? "|" : "") + first;
    }
    p += ")\\b.*\\b(";
    for (int w = 0; w < 20; ++w) {
      const std::string second = word();
      if (i == 17 && w == 11) hit += second;
      p += (w ? "|" : "") + second;
    }
    p += ")\\b";
    many.push_back(make_intent("i" + std::to_string(i), p, i));
  }
  rule_limits tight;
  tight.re2_max_mem_mb = 1;
  tight.pattern_bytes = 4096;
  auto built = rule_set::build(many, tight);
  REQUIRE(std::holds_alternative<std::vector<load_error>>(built));
  const auto& errors = std::get<std::vector<load_error>>(built);
  INFO(all_messages(errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].what.find("limits.re2_max_mem_mb (1 MiB)") != std::string::npos);

  // The default budget holds them.
  rule_limits roomy;
  roomy.pattern_bytes = 4096;
  auto ok = rule_set::build(many, roomy);
  REQUIRE(std::holds_alternative<rules_ptr>(ok));
  const auto& rs = *std::get<rules_ptr>(ok);
  INFO(hit);
  const auto ms = match_ok(rs, hit);
  CHECK(find_match(ms, "i17") != nullptr);
}

TEST_CASE("a Set starved of DFA memory still answers, never a silent no-match", "[match][memory]") {
  // RE2::Set cannot fall back to the NFA: when its DFA runs out of memory
  // Match returns false with kOutOfMemory, and match() must fail rather than
  // report no candidates. With RE2 2022-06-01, Compile() probes the DFA and
  // refuses a budget that leaves no room for 20 states, and a many-match DFA
  // resets its cache instead of giving up, so a Set that compiles always
  // completes; this checks that a barely fitting one gives the same answers
  // as a roomy one on a long message that churns through the state cache.
  std::vector<intent> rules;
  for (std::size_t i = 0; i < 100; ++i) {
    const char a = static_cast<char>('a' + i % 26);
    const char b = static_cast<char>('a' + (i * 7 + 3) % 26);
    rules.push_back(make_intent("r" + std::to_string(i),
                                std::string(1, a) + ".{" + std::to_string(5 + i % 20) + "}" + b,
                                i));
  }
  rule_limits tight;
  tight.re2_max_mem_mb = 1;
  auto starved = rule_set::build(rules, tight);
  REQUIRE(std::holds_alternative<rules_ptr>(starved));
  auto roomy = rule_set::build(rules, rule_limits{});
  REQUIRE(std::holds_alternative<rules_ptr>(roomy));

  std::mt19937 gen(7);
  std::string text;
  while (text.size() < 100000) {
    text += static_cast<char>('a' + gen() % 26);
    if (gen() % 6 == 0) text += ' ';
  }
  for (const std::string& t : {text, text.substr(0, 40), std::string("q")}) {
    auto a = std::get<rules_ptr>(starved)->match(t, {});
    auto b = std::get<rules_ptr>(roomy)->match(t, {});
    INFO(a.error().to_string());
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(ids(*a) == ids(*b));
  }
  CHECK(ids(*std::get<rules_ptr>(starved)->match(text, {})).size() == 100);
}

TEST_CASE("empty, blank and hostile messages give a defined result", "[match][bad-input]") {
  loaded l(R"(intents:
  - id: order_status
    patterns: ['\border\b']
    slots:
      order_id: '(?P<order_id>\b[A-Z]{2}-?\d{5,8}\b)'
    responses: [ok]
  - id: nested
    patterns: ['(a+)+$', '^(a|aa)+$', '(a*)*b', '(x+x+)+y']
    responses: [ok]
  - id: anything
    patterns: ['.']
    responses: [ok]
)");
  const rule_set& rs = *l.rules;

  CHECK(match_ok(rs, "").empty());
  CHECK(match_ok(rs, " \t\r\n\xc2\xa0\xe2\x80\x8b").empty());  // whitespace, NBSP, ZWSP

  // 4,000 characters (the default max_text_chars), with a hit at the end.
  std::string long_text;
  while (long_text.size() < 3970) long_text += "lorem ipsum dolor ";
  long_text += "my order AB-123456";
  long_text.resize(4000, '!');
  auto ms = match_ok(rs, long_text);
  REQUIRE(find_match(ms, "order_status"));
  CHECK(find_match(ms, "order_status")->slots.at("order_id") == "AB-123456");
  CHECK(find_match(ms, "order_status")->confidence <
        find_match(match_ok(rs, "order"), "order_status")->confidence);

  // Invalid UTF-8 around a valid word: matched as U+FFFD, never a crash.
  ms = match_ok(rs, "\xff\xfe order \xc3\x28 \xed\xa0\x80 CD-7654321 \xf4\x90\x80\x80");
  REQUIRE(find_match(ms, "order_status"));
  CHECK(find_match(ms, "order_status")->slots.at("order_id") == "CD-7654321");
  CHECK(find_match(ms, "order_status")->matched_text == "order");

  // Emoji and other scripts: defined results.
  CHECK(ids(match_ok(rs, "\xf0\x9f\x93\xa6 order? \xf0\x9f\x98\xa1")).front() == "order_status");
  CHECK(ids(match_ok(rs, "\xd0\x97\xd0\x90\xd0\x9a\xd0\x90\xd0\x97")) ==
        std::vector<std::string>{"anything"});
  CHECK(ids(match_ok(rs, "\xe6\x88\x91\xe7\x9a\x84\xe8\xae\xa2\xe5\x8d\x95")) ==
        std::vector<std::string>{"anything"});

  // Catastrophic-backtracking shapes are linear in RE2: 100,000 'a' then 'b'.
  const std::string evil = std::string(100000, 'a') + "b";
  std::vector<intent_match> evil_ms;
  const auto took = timed([&] { evil_ms = match_ok(rs, evil); });
  const intent_match* nested = find_match(evil_ms, "nested");
  REQUIRE(nested);  // (a*)*b matches the whole message
  CHECK(nested->confidence == Approx(1.0));
  CHECK(nested->pattern == "(a*)*b");
  const auto only_a = std::string(100000, 'a');
  const auto took2 = timed([&] {
    const auto m2 = match_ok(rs, only_a);
    CHECK(find_match(m2, "nested") != nullptr);  // (a+)+$ and ^(a|aa)+$
  });
  const auto took3 = timed([&] {
    const auto m3 = match_ok(rs, std::string(100000, 'x'));  // (x+x+)+y never matches
    CHECK(find_match(m3, "nested") == nullptr);
  });
  CHECK(took < std::chrono::seconds(5));
  CHECK(took2 < std::chrono::seconds(5));
  CHECK(took3 < std::chrono::seconds(5));
}

TEST_CASE("a built rule set is shared between threads", "[match]") {
  loaded l(k_orders);
  const rule_set& rs = *l.rules;
  const std::vector<std::string> texts = {"where is my order AB-123456", "nothing",
                                          "it hasn't arrived", "WHERE IS MY PACKAGE ZZ99999"};
  std::vector<std::vector<intent_match>> expected;
  for (const auto& t : texts) expected.push_back(match_ok(rs, t));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        const std::size_t k = static_cast<std::size_t>(i) % texts.size();
        auto m = rs.match(texts[k], {});
        if (!m.ok() || ids(*m) != ids(expected[k]) ||
            (!m->empty() && m->front().slots != expected[k].front().slots)) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(mismatches == 0);
}
