// The routing policy of DESIGN 5 (answer, clarify, fallback, handoff), the
// conversation's context and slots across turns, responses, and the examples
// check, including the sample rules shipped in intents/.
#include "bot/dialog/router.hpp"

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bot/core/text.hpp"
#include "bot/intents/loader.hpp"
#include "bot/kb/index.hpp"
#include "tests/intents/rule_files.hpp"

using namespace bot;
using namespace bot::dialog;
using intents::test::all_messages;
using intents::test::temp_dir;
using intents::test::yaml_lines;

namespace {

// A router over rules loaded from one YAML file, with one conversation.
class bot_under_test {
 public:
  explicit bot_under_test(const std::string& yaml,
                          core::routing_config cfg = core::routing_config{}, std::uint64_t seed = 1)
      : router_(cfg), rng_(seed) {
    file_ = dir_.write("rules.yaml", yaml);
    const intents::load_result r = intents::load_intents_dir(dir_.str(), intents::rule_limits{});
    INFO(all_messages(r.errors));
    REQUIRE(r.errors.empty());
    REQUIRE(r.rules);
    snap_.rules = r.rules;
  }

  decision say(std::string_view text) { return router_.route(text, state, snap_, rng_); }
  // A new conversation over the same rules.
  void reset() { state = dialog_state(); }

  const router& get_router() const { return router_; }
  const snapshot& snap() const { return snap_; }
  const std::string& file() const { return file_; }

  dialog_state state;

 private:
  temp_dir dir_;
  std::string file_;
  router router_;
  snapshot snap_;
  std::mt19937_64 rng_;
};

std::string describe(const decision& d) {
  std::string out = std::string(decision_name(d.kind)) + " " + d.source_kind + ":" + d.source_id +
                    " conf=" + std::to_string(d.confidence) + " text='" + d.text + "'";
  for (const auto& c : d.candidates) out += "\n  " + c.id + " " + std::to_string(c.confidence);
  return out;
}

// Checks a decision's kind and source id; `expr` is evaluated once.
#define CHECK_DECISION(expr, kind_, id_)          \
  do {                                            \
    const decision checked_ = (expr);             \
    INFO(describe(checked_));                     \
    CHECK(checked_.kind == decision_kind::kind_); \
    CHECK(checked_.source_id == (id_));           \
  } while (false)

const char* const k_shop = R"(intents:
  - id: order_status
    description: Where is my order?
    patterns:
      - '\b(where|track)\b.*\border\b'
    slots:
      order_id: '(?P<order_id>\b[A-Z]{2}-?\d{5,8}\b)'
    sets_context: { topic: orders }
    responses:
      - when: { missing: [order_id] }
        text: "What's your order number? It looks like AB-123456."
        expect: order_id
      - text: "Order {order_id} is on its way."
    quick_replies: ["Talk to a person"]
  - id: cancel_order
    description: Cancel my order
    patterns: ['\bcancel\b']
    slots:
      order_id: '(?P<order_id>\b[A-Z]{2}-?\d{5,8}\b)'
    responses:
      - when: { present: [order_id] }
        text: "Cancelling {order_id}."
      - text: "Which order?"
  - id: shipping_info
    description: Shipping costs
    patterns: ['^(tell me about )?shipping$']
    sets_context: { topic: shipping }
    responses: ["Shipping is free over $75."]
  - id: returns_info
    description: Returns
    patterns: ['^(tell me about )?returns$']
    sets_context: { topic: returns }
    responses: ["Returns are free for 30 days."]
  - id: followup.how_long
    description: How long does it take?
    patterns: ['^how long\??$']
    requires_context: [topic]
    responses:
      - when: { context: { topic: shipping } }
        text: "Delivery takes 3-5 days."
      - when: { context: { topic: returns } }
        text: "Refunds take 5-7 days."
      - text: "Do you mean delivery or refunds?"
  - id: hello
    description: Hello
    patterns: ['^(hi|hello)$']
    responses:
      - text: ["Hi!", "Hello!", "Hey there!"]
  - id: human
    description: Talk to a person
    patterns: ['\b(human|person)\b']
    action: handoff
    handoff: { team: support }
    responses: ["Connecting you to a person."]
  - id: complaint
    patterns: ['\bcomplaint\b']
    action: handoff
    responses: ["Sorry to hear that."]
  - id: bye
    description: Goodbye
    patterns: ['^(bye|goodbye)$']
    action: close
    responses: ["Bye!"]
)";

// Two (or more) intents that overlap on "shipping", for clarify.
const char* const k_overlap = R"(intents:
  - id: shipping_cost
    description: How much is shipping?
    patterns: ['\bshipping\b']
    responses: [Free over $75.]
  - id: shipping_time
    description: How long does shipping take?
    patterns: ['\bshipping\b']
    responses: [3-5 days.]
  - id: shipping_abroad
    patterns: ['\bshipping\b']
    responses: [We ship to 40 countries.]
  - id: shipping_fourth
    description: Fourth
    patterns: ['\bshipping\b']
    responses: [Fourth.]
  - id: returns_only
    description: Returns
    patterns: ['\breturns\b']
    responses: [Returns.]
  - id: returns_weak
    description: Weak returns
    patterns:
      - pattern: '\breturns\b'
        weight: 0.3
    responses: [Weak.]
  - id: maybe
    description: Maybe this?
    patterns:
      - pattern: '\bmaybe\b'
        weight: 0.5
    responses: [Maybe.]
  - id: unlikely
    patterns:
      - pattern: '\bunlikely\b'
        weight: 0.4
    responses: [Unlikely.]
  - id: near_a
    description: Near A
    patterns: ['^near$']
    responses: [A.]
  - id: near_b
    description: Near B
    patterns:
      - pattern: '^near$'
        weight: 0.95
    responses: [B.]
  - id: far_a
    patterns: ['^far$']
    responses: [A.]
  - id: far_b
    patterns:
      - pattern: '^far$'
        weight: 0.85
    responses: [B.]
)";

}  // namespace

TEST_CASE("the thresholds are DESIGN 5's defaults", "[router]") {
  const core::routing_config cfg;
  CHECK(cfg.answer_threshold == 0.6);
  CHECK(cfg.clarify_threshold == 0.35);
  CHECK(cfg.ambiguity_margin == 0.1);
  CHECK(cfg.fallbacks_before_handoff == 2);
  CHECK(cfg.context_ttl == 3);
}

TEST_CASE("a confident, clear top candidate is answered", "[router]") {
  bot_under_test bot(k_shop);
  const decision d = bot.say("Where is my ORDER?");
  CHECK_DECISION(d, answer, "order_status");
  CHECK(d.source_kind == "intent");
  CHECK(d.confidence == Approx(1.0));
  CHECK(d.text == "What's your order number? It looks like AB-123456.");
  CHECK(d.quick_replies == std::vector<std::string>{"Talk to a person"});
  CHECK_FALSE(d.close);
  CHECK(d.handoff_team.empty());
  CHECK(d.error.ok());
  REQUIRE(d.candidates.size() == 1);
  CHECK(d.candidates[0].kind == "intent");
  CHECK(d.candidates[0].id == "order_status");
  CHECK(d.candidates[0].title == "Where is my order?");
  CHECK(d.candidates[0].why == "\\b(where|track)\\b.*\\border\\b");
  CHECK(d.candidates[0].matched_text == "where is my order");
}

TEST_CASE("candidates within the margin are clarified with the top 2-3 as quick replies",
          "[router]") {
  bot_under_test bot(k_overlap);
  decision d = bot.say("shipping");  // four candidates at 1.0
  CHECK_DECISION(d, clarify, "");
  CHECK(d.source_kind == "clarify");
  CHECK(d.confidence == Approx(1.0));
  CHECK_FALSE(d.text.empty());
  // Labels are the descriptions (the id when there is none), best first, at most 3.
  CHECK(d.quick_replies == std::vector<std::string>{"How much is shipping?",
                                                    "How long does shipping take?",
                                                    "shipping_abroad"});
  CHECK(d.candidates.size() == 4);

  // 1.0 against 0.95 (< margin 0.1): ambiguous.
  d = bot.say("near");
  CHECK_DECISION(d, clarify, "");
  CHECK(d.quick_replies == std::vector<std::string>{"Near A", "Near B"});

  // 1.0 against 0.85 (>= margin): the top is answered.
  d = bot.say("far");
  CHECK_DECISION(d, answer, "far_a");
  CHECK(d.candidates.size() == 2);

  // A distant runner-up does not make the top ambiguous.
  d = bot.say("returns");
  CHECK_DECISION(d, answer, "returns_only");
  CHECK(d.candidates.size() == 2);
  CHECK(d.candidates[1].confidence < bot.get_router().config().clarify_threshold);
}

TEST_CASE("a top between clarify_threshold and answer_threshold is clarified", "[router]") {
  bot_under_test bot(k_overlap);
  const decision d = bot.say("maybe");  // weight 0.5, whole message: 0.5
  CHECK_DECISION(d, clarify, "");
  CHECK(d.confidence == Approx(0.5));
  CHECK(d.quick_replies == std::vector<std::string>{"Maybe this?"});
  CHECK(bot.state.fallbacks_in_row == 0);
}

TEST_CASE("below clarify_threshold is a fallback", "[router]") {
  bot_under_test bot(k_overlap);
  decision d =
      bot.say("this is an unlikely phrase for sure, I think, honestly");  // 0.4 * (0.75 + small)
  CHECK_DECISION(d, fallback, "");
  CHECK(d.source_kind == "fallback");
  CHECK(d.confidence > 0.0);
  CHECK(d.confidence < 0.35);
  CHECK_FALSE(d.text.empty());
  CHECK(d.candidates.size() == 1);
  bot.reset();
  d = bot.say("nothing matches this");
  CHECK_DECISION(d, fallback, "");
  CHECK(d.confidence == 0.0);
  CHECK(d.candidates.empty());
}

TEST_CASE("a higher priority is not made ambiguous by a lower one", "[router]") {
  bot_under_test bot(R"(intents:
  - id: generic_card
    patterns: ['\bcard\b']
    responses: [We take cards.]
  - id: card_declined
    priority: 1
    patterns:
      - pattern: '\bcard\b.*\bdeclined\b'
        weight: 0.9
    responses: [Sorry, try another card.]
  - id: card_declined_twin
    patterns: ['\bcard\b.*\bdeclined\b']
    responses: [Twin.]
)");
  const decision d = bot.say("card declined");
  CHECK_DECISION(d, answer, "card_declined");
  CHECK(d.confidence == Approx(0.9));
  REQUIRE(d.candidates.size() == 3);
  CHECK(d.candidates[1].confidence > d.candidates[0].confidence);  // lower priority, higher score
}

TEST_CASE("action: handoff hands off to its team", "[router]") {
  bot_under_test bot(k_shop);
  decision d = bot.say("I want to talk to a person");
  CHECK_DECISION(d, handoff, "human");
  CHECK(d.source_kind == "intent");
  CHECK(d.handoff_team == "support");
  CHECK(d.handoff_reason == "intent:human");
  CHECK(d.text == "Connecting you to a person.");

  d = bot.say("I have a complaint");
  CHECK_DECISION(d, handoff, "complaint");
  CHECK(d.handoff_team == "general");  // no team named: the default
  CHECK(std::string(k_default_team) == "general");
  CHECK(d.handoff_reason == "intent:complaint");
}

TEST_CASE("asking for a person is honoured even when another intent ties", "[router]") {
  bot_under_test bot(R"(intents:
  - id: human
    patterns: ['\bperson\b']
    action: handoff
    handoff: { team: support }
    responses: [Connecting you.]
  - id: person_names
    patterns: ['\bperson\b']
    responses: [Names.]
)");
  const decision d = bot.say("person");
  CHECK_DECISION(d, handoff, "human");
  CHECK(d.handoff_team == "support");
}

TEST_CASE("fallbacks_before_handoff fallbacks in a row hand off, an answer resets the count",
          "[router]") {
  bot_under_test bot(k_shop);
  decision d = bot.say("qwerty");
  CHECK_DECISION(d, fallback, "");
  CHECK(bot.state.fallbacks_in_row == 1);
  d = bot.say("asdfgh");
  CHECK_DECISION(d, handoff, "");
  CHECK(d.source_kind == "fallback");
  CHECK(d.handoff_reason == "fallbacks");
  CHECK(d.handoff_team == "general");
  CHECK_FALSE(d.text.empty());
  CHECK(bot.state.fallbacks_in_row == 0);

  // Fallback, answer, fallback: no handoff.
  d = bot.say("zxcvbn");
  CHECK_DECISION(d, fallback, "");
  d = bot.say("hello");
  CHECK_DECISION(d, answer, "hello");
  CHECK(bot.state.fallbacks_in_row == 0);
  d = bot.say("poiuyt");
  CHECK_DECISION(d, fallback, "");
  d = bot.say("lkjhgf");
  CHECK_DECISION(d, handoff, "");

  // Empty messages are not counted as fallbacks.
  bot.reset();
  for (int i = 0; i < 3; ++i) {
    d = bot.say("   ");
    CHECK_DECISION(d, fallback, "");
  }
  CHECK(bot.state.fallbacks_in_row == 0);

  // With fallbacks_before_handoff = 0 the bot never hands off by itself.
  core::routing_config never;
  never.fallbacks_before_handoff = 0;
  bot_under_test patient(k_shop, never);
  for (int i = 0; i < 5; ++i) CHECK_DECISION(patient.say("qwerty"), fallback, "");
}

TEST_CASE("sets_context lives for context_ttl turns and gates requires_context",
          "[router][context]") {
  bot_under_test bot(k_shop);
  // No topic yet: the follow-up is not a candidate.
  decision d = bot.say("how long?");
  CHECK_DECISION(d, fallback, "");
  CHECK(d.candidates.empty());

  // Set on turn 1, still there three turns later (turn 4).
  bot.reset();
  CHECK_DECISION(bot.say("shipping"), answer, "shipping_info");
  CHECK(bot.state.context_values() == intents::context_map{{"topic", "shipping"}});
  CHECK_DECISION(bot.say("hi"), answer, "hello");
  CHECK_DECISION(bot.say("hi"), answer, "hello");
  d = bot.say("How long?");
  CHECK_DECISION(d, answer, "followup.how_long");
  CHECK(d.text == "Delivery takes 3-5 days.");

  // Gone on the fourth turn after it was set.
  bot.reset();
  CHECK_DECISION(bot.say("shipping"), answer, "shipping_info");
  for (int i = 0; i < 3; ++i) CHECK_DECISION(bot.say("hi"), answer, "hello");
  d = bot.say("How long?");
  CHECK_DECISION(d, fallback, "");
  CHECK(bot.state.context.empty());

  // Setting it again renews it.
  bot.reset();
  CHECK_DECISION(bot.say("shipping"), answer, "shipping_info");
  CHECK_DECISION(bot.say("hi"), answer, "hello");
  CHECK_DECISION(bot.say("hi"), answer, "hello");
  CHECK_DECISION(bot.say("shipping"), answer, "shipping_info");
  CHECK_DECISION(bot.say("hi"), answer, "hello");
  CHECK_DECISION(bot.say("hi"), answer, "hello");
  CHECK_DECISION(bot.say("how long"), answer, "followup.how_long");

  // context_ttl = 1: only the next turn.
  core::routing_config short_ttl;
  short_ttl.context_ttl = 1;
  bot_under_test brief(k_shop, short_ttl);
  CHECK_DECISION(brief.say("shipping"), answer, "shipping_info");
  CHECK_DECISION(brief.say("how long"), answer, "followup.how_long");
  CHECK_DECISION(brief.say("how long"), fallback, "");
}

TEST_CASE("when conditions pick the response", "[router][context]") {
  bot_under_test bot(k_shop);
  CHECK_DECISION(bot.say("tell me about returns"), answer, "returns_info");
  CHECK(bot.say("how long?").text == "Refunds take 5-7 days.");
  bot.reset();
  CHECK_DECISION(bot.say("tell me about shipping"), answer, "shipping_info");
  CHECK(bot.say("how long?").text == "Delivery takes 3-5 days.");
  bot.reset();
  // topic=orders: neither condition holds; the response without `when`.
  CHECK_DECISION(bot.say("where is my order AB-123456"), answer, "order_status");
  CHECK(bot.say("how long?").text == "Do you mean delivery or refunds?");
  // The latest sets_context wins.
  CHECK_DECISION(bot.say("returns"), answer, "returns_info");
  CHECK(bot.say("how long?").text == "Refunds take 5-7 days.");

  // missing / present pick by the slots known.
  bot.reset();
  CHECK(bot.say("cancel please").text == "Which order?");
  CHECK(bot.say("cancel AB-123456").text == "Cancelling AB-123456.");
}

TEST_CASE("expect fills a bare slot on the next turn", "[router][slots]") {
  bot_under_test bot(k_shop);
  decision d = bot.say("where is my order");
  CHECK_DECISION(d, answer, "order_status");
  CHECK(d.text == "What's your order number? It looks like AB-123456.");
  CHECK(bot.state.expect_intent == "order_status");
  CHECK(bot.state.expect_slot == "order_id");

  d = bot.say("AB-123456");
  CHECK_DECISION(d, answer, "order_status");
  CHECK(d.text == "Order AB-123456 is on its way.");
  CHECK(d.confidence == Approx(1.0));
  CHECK(bot.state.slots == intents::slot_map{{"order_id", "AB-123456"}});
  CHECK(bot.state.expect_slot.empty());
  CHECK(bot.state.expect_intent.empty());
  REQUIRE(d.candidates.size() == 1);
  CHECK(d.candidates[0].slots == intents::slot_map{{"order_id", "AB-123456"}});

  // Without the question first, a bare number is not understood.
  bot.reset();
  CHECK_DECISION(bot.say("AB-123456"), fallback, "");
}

TEST_CASE("a next message that does not fill the slot drops the expectation", "[router][slots]") {
  bot_under_test bot(k_shop);
  CHECK_DECISION(bot.say("where is my order"), answer, "order_status");
  REQUIRE(bot.state.expect_slot == "order_id");
  decision d = bot.say("hello");
  CHECK_DECISION(d, answer, "hello");  // routed normally
  CHECK(bot.state.expect_slot.empty());
  CHECK(bot.state.slots.empty());
  d = bot.say("AB-123456");  // too late
  CHECK_DECISION(d, fallback, "");

  // A message that is another intent is that intent, not the slot.
  bot.reset();
  CHECK_DECISION(bot.say("where is my order"), answer, "order_status");
  CHECK_DECISION(bot.say("talk to a person"), handoff, "human");
  CHECK(bot.state.expect_slot.empty());
}

TEST_CASE("a next message that is another request is routed as one, slot or not",
          "[router][slots]") {
  bot_under_test bot(k_shop);
  CHECK_DECISION(bot.say("where is my order"), answer, "order_status");
  REQUIRE(bot.state.expect_slot == "order_id");
  decision d = bot.say("actually, cancel AB-123456");
  CHECK_DECISION(d, answer, "cancel_order");
  CHECK(d.text == "Cancelling AB-123456.");

  bot.reset();
  CHECK_DECISION(bot.say("where is my order"), answer, "order_status");
  d = bot.say("I want a person, about AB-123456");
  CHECK_DECISION(d, handoff, "human");
  CHECK(d.handoff_team == "support");
  CHECK(bot.state.expect_slot.empty());

  // The expected intent itself matching is still the answer.
  bot.reset();
  CHECK_DECISION(bot.say("where is my order"), answer, "order_status");
  d = bot.say("track order AB-123456 please");
  CHECK_DECISION(d, answer, "order_status");
  CHECK(d.text == "Order AB-123456 is on its way.");
}

TEST_CASE("slots are remembered across turns and shared by name", "[router][slots]") {
  bot_under_test bot(k_shop);
  decision d = bot.say("track order ZX-9876543");
  CHECK_DECISION(d, answer, "order_status");
  CHECK(d.text == "Order ZX-9876543 is on its way.");
  CHECK(bot.state.expect_slot.empty());
  CHECK_DECISION(bot.say("hi"), answer, "hello");
  d = bot.say("where is my order?");
  CHECK(d.text == "Order ZX-9876543 is on its way.");
  d = bot.say("please cancel it");  // another intent with the same slot name
  CHECK_DECISION(d, answer, "cancel_order");
  CHECK(d.text == "Cancelling ZX-9876543.");
  // A new value replaces the old one.
  d = bot.say("track order AA-1111111");
  CHECK(d.text == "Order AA-1111111 is on its way.");
  CHECK(bot.state.slots.at("order_id") == "AA-1111111");
}

TEST_CASE("response variants are random, reproducible for a seed, and all reachable", "[router]") {
  const auto run = [](std::uint64_t seed) {
    bot_under_test bot(k_shop, core::routing_config{}, seed);
    std::vector<std::string> texts;
    for (int i = 0; i < 12; ++i) texts.push_back(bot.say("hello").text);
    return texts;
  };
  CHECK(run(42) == run(42));
  CHECK(run(7) == run(7));

  std::set<std::string> seen;
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    bot_under_test bot(k_shop, core::routing_config{}, seed);
    seen.insert(bot.say("hi").text);
  }
  CHECK(seen == std::set<std::string>{"Hi!", "Hello!", "Hey there!"});
  // ...and within one conversation, too.
  const auto texts = run(3);
  CHECK(std::set<std::string>(texts.begin(), texts.end()).size() == 3);
}

TEST_CASE("a payload intent:<id> chooses that intent directly", "[router]") {
  bot_under_test bot(k_overlap);
  decision d = bot.say("intent:shipping_time");
  CHECK_DECISION(d, answer, "shipping_time");
  CHECK(d.confidence == Approx(1.0));
  CHECK(d.text == "3-5 days.");
  REQUIRE(d.candidates.size() == 1);
  CHECK(d.candidates[0].why == "quick reply");

  bot_under_test shop(k_shop);
  d = shop.say("intent:human");
  CHECK_DECISION(d, handoff, "human");
  CHECK(d.handoff_team == "support");
  // A requires_context intent chosen directly still answers.
  d = shop.say("intent:followup.how_long");
  CHECK_DECISION(d, answer, "followup.how_long");
  // An unknown id is just text.
  d = shop.say("intent:no_such_intent");
  CHECK_DECISION(d, fallback, "");
}

TEST_CASE("action: close sets decision.close", "[router]") {
  bot_under_test bot(k_shop);
  decision d = bot.say("Bye");
  CHECK_DECISION(d, answer, "bye");
  CHECK(d.close);
  CHECK(d.text == "Bye!");
  d = bot.say("hello");
  CHECK_FALSE(d.close);
}

TEST_CASE("bad input gives a defined decision", "[router][bad-input]") {
  bot_under_test bot(k_shop);
  for (const std::string blank : {"", " ", "\t\r\n", "\xc2\xa0\xe3\x80\x80", "\xe2\x80\x8b"}) {
    const decision d = bot.say(blank);
    CHECK_DECISION(d, fallback, "");
    CHECK_FALSE(d.text.empty());
  }

  // 4,000 characters with a request at the end.
  std::string long_text;
  while (long_text.size() < 3980) long_text += "blah ";
  long_text.resize(3980, ' ');
  long_text += "talk to a person";
  long_text.resize(4000, '.');
  CHECK(core::utf8_length(long_text) == 4000);
  decision d = bot.say(long_text);
  CHECK_DECISION(d, handoff, "human");

  // Invalid UTF-8: routed as U+FFFD; slots and replies stay valid UTF-8.
  bot.reset();
  d = bot.say("\xff track \xc0\xaf order AB-123456\xe2\x82");
  CHECK_DECISION(d, answer, "order_status");
  CHECK(d.text == "Order AB-123456 is on its way.");
  CHECK(core::is_valid_utf8(d.text));
  d = bot.say("\xed\xa0\x80\xff\xfe");
  CHECK_DECISION(d, fallback, "");
  CHECK(core::is_valid_utf8(d.text));

  // Emoji and other scripts.
  bot.reset();
  CHECK_DECISION(
      bot.say("\xf0\x9f\x98\x80 hello? no: \xf0\x9f\x93\xa6 where is my order \xf0\x9f\x93\xa6"),
      answer, "order_status");
  CHECK_DECISION(bot.say("\xd0\x93\xd0\xb4\xd0\xb5 \xd0\xbc\xd0\xbe\xd0\xb9 "
                         "\xd0\xb7\xd0\xb0\xd0\xba\xd0\xb0\xd0\xb7?"),
                 fallback, "");  // Где мой заказ?
  CHECK_DECISION(
      bot.say(
          "\xe6\x88\x91\xe7\x9a\x84\xe8\xae\xa2\xe5\x8d\x95\xe5\x9c\xa8\xe5\x93\xaa\xe9\x87\x8c"),
      handoff, "");  // 我的订单在哪里: the second fallback in a row

  // No rules at all: a fallback, not a crash.
  snapshot empty;
  dialog_state s;
  std::mt19937_64 rng(1);
  d = router(core::routing_config{}).route("hello", s, empty, rng);
  CHECK_DECISION(d, fallback, "");
}

TEST_CASE("catastrophic-backtracking patterns route in linear time", "[router][bad-input]") {
  bot_under_test bot(R"(intents:
  - id: evil
    patterns: ['(a+)+$', '^(a|aa)+$', '(a|a?)+c']
    responses: [Evil.]
)");
  const std::string text = std::string(100000, 'a') + "b";
  const auto start = std::chrono::steady_clock::now();
  const decision d = bot.say(text);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK_DECISION(d, fallback, "");
  CHECK(took < std::chrono::seconds(5));
  CHECK_DECISION(bot.say(std::string(100000, 'a')), answer, "evil");
}

TEST_CASE("check_examples reports examples that do not route as declared", "[router][examples]") {
  const yaml_lines y{
      "intents:",                          // 1
      "  - id: greet",                     // 2
      "    patterns: ['^(hi|hello)$']",    // 3
      "    responses: [Hi!]",              // 4
      "    examples:",                     // 5
      "      - hello",                     // 6
      "      - good morning",              // 7  does not route here
      "    not_examples: [hi, bye]",       // 8  'hi' routes here
      "  - id: agent",                     // 9
      "    patterns: ['\\bagent\\b']",     // 10
      "    action: handoff",               // 11
      "    responses: [Connecting.]",      // 12
      "    examples: [agent please]",      // 13 a handoff counts as routed
      "  - id: later",                     // 14
      "    patterns: ['^and then\\??$']",  // 15
      "    requires_context: [topic]",     // 16
      "    responses: [Then.]",            // 17
      "    examples: ['and then?']",       // 18 checked with topic set
  };
  bot_under_test bot(y.text());
  const example_report rep = check_examples(bot.get_router(), bot.snap());
  CHECK(rep.examples == 6);
  CHECK(rep.passed == 4);
  REQUIRE(rep.failures.size() == 2);
  const std::string f = bot.file();
  CHECK(rep.failures[0].message ==
        f + ":" + y.at(7, "good") +
            ": example 'good morning' of 'greet' does not route to it (got fallback 0.00)");
  CHECK(rep.failures[1].message ==
        f + ":" + y.at(8, "hi") + ": not_example 'hi' routes to 'greet' (answer greet 1.00)");
}

TEST_CASE("every example of the sample intents/ routes as declared", "[router][examples]") {
  const std::string dir = std::string(SUPPORTBOT_SOURCE_DIR) + "/intents";
  const intents::load_result r = intents::load_intents_dir(dir, intents::rule_limits{});
  INFO(all_messages(r.errors));
  REQUIRE(r.errors.empty());
  REQUIRE(r.rules);
  CHECK(r.files.size() >= 10);
  snapshot snap;
  snap.rules = r.rules;
  const router rt{core::routing_config{}};
  const example_report rep = check_examples(rt, snap);
  std::string failures;
  for (const auto& f : rep.failures) failures += f.message + "\n";
  INFO(failures);
  CHECK(rep.failures.empty());
  CHECK(rep.examples > 100);
  CHECK(rep.passed == rep.examples);
  // Every intent has at least one example.
  for (const auto& in : r.rules->intents()) {
    INFO(in.id);
    CHECK_FALSE(in.examples.empty());
  }
}

// The server routes with route_detail::decision_only, which skips the
// knowledge-base search when an intent answers. Its decisions must be those
// of the full routing (`ask`, `eval`): the shipped rules and knowledge base,
// every example and not_example, and the load generator's 198 shopper
// questions, each in a new conversation and all of them in one.
TEST_CASE("decision_only routing decides exactly as full routing", "[router][kb]") {
  const std::string root = SUPPORTBOT_SOURCE_DIR;
  const intents::load_result r =
      intents::load_intents_dir(root + "/intents", intents::rule_limits{});
  INFO(all_messages(r.errors));
  REQUIRE(r.rules);
  auto kb = kb::kb_index::build(kb::load_kb_dir(root + "/knowledge_base", kb::kb_limits{}));
  REQUIRE(kb.ok());
  snapshot snap;
  snap.rules = r.rules;
  snap.kb = kb.value();
  const router rt{core::routing_config{}};

  std::vector<std::string> messages;
  for (const auto& in : r.rules->intents()) {
    for (const auto& e : in.examples) messages.push_back(e.text);
    for (const auto& e : in.not_examples) messages.push_back(e.text);
  }
  std::ifstream lines(root + "/tests/bench/messages.txt");
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) messages.push_back(line);
  }
  REQUIRE(messages.size() > 300);

  const auto same = [](const decision& a, const decision& b, const dialog_state& sa,
                       const dialog_state& sb) {
    CHECK(a.kind == b.kind);
    CHECK(a.text == b.text);
    CHECK(a.quick_replies == b.quick_replies);
    CHECK(a.quick_payloads == b.quick_payloads);
    CHECK(a.source_kind == b.source_kind);
    CHECK(a.source_id == b.source_id);
    CHECK(a.source_title == b.source_title);
    CHECK(a.confidence == b.confidence);
    CHECK(a.handoff_team == b.handoff_team);
    CHECK(a.handoff_reason == b.handoff_reason);
    CHECK(a.close == b.close);
    CHECK(sa.context_values() == sb.context_values());
    CHECK(sa.slots == sb.slots);
    CHECK(sa.expect_intent == sb.expect_intent);
    CHECK(sa.expect_slot == sb.expect_slot);
    CHECK(sa.fallbacks_in_row == sb.fallbacks_in_row);
    CHECK(sa.turns == sb.turns);
  };
  const auto has_kb = [](const decision& d) {
    return std::any_of(d.candidates.begin(), d.candidates.end(),
                       [](const candidate& c) { return c.kind == "kb"; });
  };

  std::size_t skipped = 0, kb_answers = 0;
  dialog_state long_full, long_fast;  // one conversation through every message
  std::mt19937_64 long_rng_full(7), long_rng_fast(7);
  for (const auto& m : messages) {
    INFO("message: " << m);
    dialog_state sf, sd;
    std::mt19937_64 rf(3), rd(3);
    const decision full = rt.route(m, sf, snap, rf);
    const decision fast = rt.route(m, sd, snap, rd, route_detail::decision_only);
    INFO(describe(full) << "\nvs\n" << describe(fast));
    same(full, fast, sf, sd);
    skipped += has_kb(full) && !has_kb(fast);
    kb_answers += fast.source_kind == "kb";

    const decision lf = rt.route(m, long_full, snap, long_rng_full);
    const decision ld = rt.route(m, long_fast, snap, long_rng_fast, route_detail::decision_only);
    same(lf, ld, long_full, long_fast);
  }
  // The search was really skipped for the messages intents answer, and the
  // knowledge base still answers the others.
  CHECK(skipped > 100);
  CHECK(kb_answers > 50);
}
