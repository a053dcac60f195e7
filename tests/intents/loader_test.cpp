// Loading intents/*.yaml: every problem is reported as "file:line:col:
// message" at the right place, and all problems of a run are listed at once.
#include "bot/intents/loader.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/intents/rule_files.hpp"

using namespace bot::intents;
using bot::intents::test::all_messages;
using bot::intents::test::count_errors;
using bot::intents::test::has_error;
using bot::intents::test::temp_dir;
using bot::intents::test::yaml_lines;

namespace {

// Checks that `errors` holds an error at "file:<where>" containing `what`.
#define CHECK_ERROR_AT(errors, file, where, what)                       \
  do {                                                                  \
    INFO("expected " << (file) << ":" << (where) << ": ..." << (what)); \
    INFO("got:\n" << all_messages(errors));                             \
    CHECK(has_error((errors), (file) + ":" + (where), (what)));         \
  } while (false)

const std::string k_valid_intent =
    "intents:\n"
    "  - id: greet\n"
    "    patterns: ['\\bhello\\b']\n"
    "    responses: [Hi!]\n";

}  // namespace

TEST_CASE("a valid file loads every field of DESIGN 4", "[loader]") {
  temp_dir dir;
  const std::string file = dir.write("orders.yaml", R"(intents:
  - id: order_status                 # unique, [a-z0-9_.]+
    description: Where is my order?
    patterns:
      - '\b(where|status|track\w*)\b.*\b(order|package|parcel)\b'
      - pattern: '\bhasn.?t (arrived|shipped)\b'
        weight: 0.8
    exclude: ['\bcancel']
    slots:
      order_id: '(?P<order_id>\b[A-Z]{2}-?\d{5,8}\b)'
    requires_context: []
    sets_context: { topic: orders }
    priority: 2
    responses:
      - when: { missing: [order_id] }
        text: "Sure, what's your order number? It looks like AB-123456."
        expect: order_id
      - text: ["Order {order_id} is on its way: https://shop.example/track/{order_id}", "Variant {order_id}"]
    quick_replies: ["Talk to a person"]
    action: handoff
    handoff: { team: orders }
    examples: [where is my order, my package hasn't arrived]
    not_examples: [cancel my order]
)");
  const load_result r = load_intents_dir(dir.str(), rule_limits{});
  INFO(all_messages(r.errors));
  REQUIRE(r.errors.empty());
  REQUIRE(r.rules);
  REQUIRE(r.files.size() == 1);
  CHECK(r.files[0] == file);
  const intent* in = r.rules->find("order_status");
  REQUIRE(in != nullptr);
  CHECK(in->description == "Where is my order?");
  CHECK(in->loc.str() == file + ":2:9");
  REQUIRE(in->patterns.size() == 2);
  CHECK(in->patterns[0].weight == 1.0);
  CHECK(in->patterns[0].loc.str() == file + ":5:9");
  CHECK(in->patterns[1].regex == "\\bhasn.?t (arrived|shipped)\\b");
  CHECK(in->patterns[1].weight == Approx(0.8));
  CHECK(in->patterns[1].loc.str() == file + ":6:18");
  REQUIRE(in->excludes.size() == 1);
  CHECK(in->excludes[0].regex == "\\bcancel");
  REQUIRE(in->slots.size() == 1);
  CHECK(in->slots[0].name == "order_id");
  CHECK(in->requires_context.empty());
  CHECK(in->sets_context == context_map{{"topic", "orders"}});
  CHECK(in->priority == 2);
  REQUIRE(in->responses.size() == 2);
  CHECK(in->responses[0].when.missing == std::vector<std::string>{"order_id"});
  CHECK(in->responses[0].expect == "order_id");
  CHECK(in->responses[1].texts.size() == 2);
  CHECK(in->quick_replies == std::vector<std::string>{"Talk to a person"});
  CHECK(in->act == action::handoff);
  CHECK(in->handoff_team == "orders");
  REQUIRE(in->examples.size() == 2);
  CHECK(in->examples[1].text == "my package hasn't arrived");
  CHECK(in->examples[1].loc.str() == file + ":22:35");
  REQUIRE(in->not_examples.size() == 1);
  CHECK(r.rules->pattern_count() == 2);
}

TEST_CASE("unknown keys are reported where they are written, every one of them", "[loader]") {
  temp_dir dir;
  const yaml_lines y{
      "intents:",                                   // 1
      "  - id: shoes",                              // 2
      "    colour: red",                            // 3  unknown intent key
      "    patterns:",                              // 4
      "      - '\\bshoes?\\b'",                     // 5
      "      - pattern: '\\bboots?\\b'",            // 6
      "        wieght: 0.5",                        // 7  unknown pattern entry key
      "    responses:",                             // 8
      "      - text: We sell shoes.",               // 9
      "        tone: warm",                         // 10 unknown response key
      "      - when: { absent: [size] }",           // 11 unknown when key
      "        text: Which size?",                  // 12
      "    action: handoff",                        // 13
      "    handoff: { team: shoes, queue: fast }",  // 14 unknown handoff key
      "extra: 1",                                   // 15 unknown top-level key
  };
  const std::string f = dir.write("shoes.yaml", y.text());
  const load_result r = load_intents_dir(dir.str(), rule_limits{});
  CHECK_FALSE(r.rules);
  CHECK_ERROR_AT(r.errors, f, y.at(3, "colour"), "unknown key 'colour'");
  CHECK_ERROR_AT(r.errors, f, y.at(7, "wieght"), "unknown key 'wieght' in a pattern");
  CHECK_ERROR_AT(r.errors, f, y.at(10, "tone"), "unknown key 'tone' in a response");
  CHECK_ERROR_AT(r.errors, f, y.at(11, "absent"), "unknown key 'absent' in when");
  CHECK_ERROR_AT(r.errors, f, y.at(14, "queue"), "unknown key 'queue' in handoff");
  CHECK_ERROR_AT(r.errors, f, y.at(15, "extra"), "unknown key 'extra'");
  INFO(all_messages(r.errors));
  CHECK(r.errors.size() == 6);
}

TEST_CASE("values of the wrong type are reported at the value", "[loader]") {
  temp_dir dir;
  const yaml_lines a{
      "intents:",                             // 1
      "  - id: sizes",                        // 2
      "    description: [not, text]",         // 3
      "    patterns: '\\bsize\\b'",           // 4
      "    priority: high",                   // 5
      "    quick_replies: Talk to a person",  // 6
      "    sets_context: [topic]",            // 7
      "    requires_context: {topic: x}",     // 8
      "    slots: [order_id]",                // 9
      "    action: escalate",                 // 10
      "    responses: {text: hi}",            // 11
      "  - just a string",                    // 12
  };
  const yaml_lines b{
      "intents:",                            // 1
      "  - id: weights",                     // 2
      "    patterns:",                       // 3
      "      - pattern: a",                  // 4
      "        weight: heavy",               // 5
      "      - pattern: b",                  // 6
      "        weight: 0",                   // 7
      "      - {pattern: c, weight: 1.5}",   // 8
      "      - {pattern: d, weight: -0.5}",  // 9
      "      - {pattern: e, weight: 1}",     // 10 fine: (0, 1]
      "      - {weight: 0.5}",               // 11
      "      - [x]",                         // 12
      "    responses: [ok]",                 // 13
  };
  const std::string fa = dir.write("a.yaml", a.text());
  const std::string fb = dir.write("b.yaml", b.text());
  const std::string fc = dir.write("c.yaml", "intents: 3\n");
  const std::string fd = dir.write("d.yaml", "- a list, not a map\n");
  const load_result r = load_intents_dir(dir.str(), rule_limits{});
  CHECK_FALSE(r.rules);
  CHECK_ERROR_AT(r.errors, fa, a.at(3, "["), "description: expected text");
  CHECK_ERROR_AT(r.errors, fa, a.at(4, "'"), "patterns: expected a list");
  CHECK_ERROR_AT(r.errors, fa, a.at(5, "high"), "priority: expected an integer");
  CHECK_ERROR_AT(r.errors, fa, a.at(6, "Talk"), "quick_replies: expected a list");
  CHECK_ERROR_AT(r.errors, fa, a.at(7, "["), "sets_context: expected a map");
  CHECK_ERROR_AT(r.errors, fa, a.at(8, "{"), "requires_context: expected a list");
  CHECK_ERROR_AT(r.errors, fa, a.at(9, "["), "slots: expected a map");
  CHECK_ERROR_AT(r.errors, fa, a.at(10, "escalate"),
                 "'escalate' is not one of none, handoff, close");
  CHECK_ERROR_AT(r.errors, fa, a.at(11, "{"), "responses: expected a list");
  CHECK_ERROR_AT(r.errors, fa, a.at(12, "just"), "an intent must be a map");

  CHECK_ERROR_AT(r.errors, fb, b.at(5, "heavy"), "weight: expected a number in (0, 1]");
  CHECK_ERROR_AT(r.errors, fb, b.at(7, "0"), "weight: 0 is not in (0, 1]");
  CHECK_ERROR_AT(r.errors, fb, b.at(8, "1.5"), "weight: 1.5 is not in (0, 1]");
  CHECK_ERROR_AT(r.errors, fb, b.at(9, "-0.5"), "weight: -0.5 is not in (0, 1]");
  CHECK(count_errors(r.errors, fb + ":" + b.at(10, "1}"), "weight") == 0);
  CHECK_ERROR_AT(r.errors, fb, b.at(11, "{"), "a pattern entry needs 'pattern'");
  CHECK_ERROR_AT(r.errors, fb, b.at(12, "["), "expected a pattern or {pattern, weight}");

  CHECK_ERROR_AT(r.errors, fc, std::string("1:10"), "intents: expected a list");
  CHECK_ERROR_AT(r.errors, fd, std::string("1:1"), "expected a map with the key 'intents'");
}

TEST_CASE("a duplicate id names where the first one is", "[loader]") {
  temp_dir dir;
  const yaml_lines first{
      "intents:",
      "  - id: greet",
      "    patterns: ['\\bhello\\b']",
      "    responses: [Hi!]",
  };
  const yaml_lines second{
      "# the same id again, in a later file",
      "intents:",
      "  - id: other",
      "    patterns: ['\\bother\\b']",
      "    responses: [Other.]",
      "  -   id:   greet",
      "      patterns: ['\\bhey\\b']",
      "      responses: [Hey!]",
  };
  const std::string f1 = dir.write("a_first.yaml", first.text());
  const std::string f2 = dir.write("b_second.yaml", second.text());
  const load_result r = load_intents_dir(dir.str(), rule_limits{});
  CHECK_FALSE(r.rules);
  CHECK_ERROR_AT(r.errors, f2, second.at(6, "greet"),
                 "duplicate id 'greet' (first defined at " + f1 + ":" + first.at(2, "greet") + ")");
  INFO(all_messages(r.errors));
  CHECK(r.errors.size() == 1);
}

TEST_CASE("ids must match [a-z0-9_.]+", "[loader]") {
  temp_dir dir;
  const yaml_lines y{
      "intents:",                    // 1
      "  - id: Order-Status",        // 2
      "    patterns: [x]",           // 3
      "    responses: [ok]",         // 4
      "  - id: ''",                  // 5
      "    patterns: [y]",           // 6
      "    responses: [ok]",         // 7
      "  - id: fine.id_2",           // 8
      "    patterns: [z]",           // 9
      "    responses: [ok]",         // 10
      "  - description: has no id",  // 11
      "    patterns: [w]",           // 12
      "    responses: [ok]",         // 13
      "  - id: nothing_else",        // 14
  };
  const std::string f = dir.write("ids.yaml", y.text());
  const load_result r = load_intents_dir(dir.str(), rule_limits{});
  CHECK_FALSE(r.rules);
  CHECK_ERROR_AT(r.errors, f, y.at(2, "Order"), "id 'Order-Status' must match [a-z0-9_.]+");
  CHECK_ERROR_AT(r.errors, f, y.at(5, "''"), "id '' must match [a-z0-9_.]+");
  CHECK_ERROR_AT(r.errors, f, y.at(11, "description"), "intent without an id");
  CHECK_ERROR_AT(r.errors, f, y.at(14, "id"), "intent 'nothing_else' has no patterns");
  CHECK_ERROR_AT(r.errors, f, y.at(14, "id"), "intent 'nothing_else' has no responses");
  CHECK(count_errors(r.errors, f + ":" + y.at(8, "fine"), "") == 0);
}

TEST_CASE("templates, expect and when may only name the intent's slots", "[loader]") {
  temp_dir dir;
  const yaml_lines y{
      "intents:",                                              // 1
      "  - id: track",                                         // 2
      "    patterns: ['\\btrack\\b']",                         // 3
      "    slots:",                                            // 4
      "      order_id: '(?P<order_id>[A-Z]{2}-\\d{6})'",       // 5
      "    responses:",                                        // 6
      "      - when: { missing: [order_id] }",                 // 7
      "        text: What is the order number?",               // 8
      "        expect: order_number",                          // 9
      "      - when: { present: [zip] }",                      // 10
      "        text: Shipping to {zip}.",                      // 11
      "      - text: 'Order {order_id} ships to {postcode}'",  // 12
      "      - Fine {order_id}.",                              // 13
      "    handoff: { team: orders }",                         // 14
  };
  const std::string f = dir.write("track.yaml", y.text());
  const load_result r = load_intents_dir(dir.str(), rule_limits{});
  CHECK_FALSE(r.rules);
  // A response's problems are reported at the response.
  CHECK_ERROR_AT(r.errors, f, y.at(7, "when"), "expect names unknown slot 'order_number'");
  CHECK_ERROR_AT(r.errors, f, y.at(7, "when"), "(intent 'track' has slots: order_id)");
  CHECK_ERROR_AT(r.errors, f, y.at(10, "when"), "when.present names unknown slot 'zip'");
  CHECK_ERROR_AT(r.errors, f, y.at(10, "when"), "template {zip} names unknown slot 'zip'");
  CHECK_ERROR_AT(r.errors, f, y.at(12, "text"),
                 "template {postcode} names unknown slot 'postcode'");
  CHECK(count_errors(r.errors, f + ":" + y.at(12, "text"), "template {") ==
        1);  // {order_id} is fine
  CHECK(count_errors(r.errors, f + ":" + y.at(13, "Fine"), "") == 0);
  // handoff.team without action: handoff, at the intent's id.
  CHECK_ERROR_AT(r.errors, f, y.at(2, "track"),
                 "has handoff.team but its action is none, not handoff");
  INFO(all_messages(r.errors));
  CHECK(r.errors.size() == 5);
}

TEST_CASE("patterns RE2 rejects or that are too long are reported at the pattern", "[loader]") {
  temp_dir dir;
  const std::string long_pattern = "\\b(" + std::string(70, 'x') + ")\\b";  // 76 bytes
  const yaml_lines y{
      "intents:",                           // 1
      "  - id: broken",                     // 2
      "    patterns:",                      // 3
      "      - '\\b(unclosed\\b'",          // 4
      "      - pattern: 'a(?<!b)c'",        // 5 lookbehind
      "        weight: 0.5",                // 6
      "      - '" + long_pattern + "'",     // 7
      "      - '\\bok\\b'",                 // 8
      "    exclude: ['[z-a]']",             // 9
      "    slots:",                         // 10
      "      order_id: '[A-Z]{2}-\\d{6}'",  // 11 no named group
      "      code: '(?P<code>\\d+'",        // 12 bad slot regex
      "    responses: [ok]",                // 13
  };
  const std::string f = dir.write("broken.yaml", y.text());
  rule_limits limits;
  limits.pattern_bytes = 64;
  const load_result r = load_intents_dir(dir.str(), limits);
  CHECK_FALSE(r.rules);
  CHECK_ERROR_AT(r.errors, f, y.at(4, "'"), "pattern is not valid RE2: missing )");
  CHECK_ERROR_AT(r.errors, f, y.at(5, "'"), "pattern is not valid RE2");
  CHECK_ERROR_AT(r.errors, f, y.at(7, "'"), "pattern is 76 bytes, over the limit of 64");
  CHECK_ERROR_AT(r.errors, f, y.at(9, "'"), "exclude pattern is not valid RE2");
  CHECK_ERROR_AT(r.errors, f, y.at(11, "'"), "slot pattern needs a named group (?P<order_id>...)");
  CHECK_ERROR_AT(r.errors, f, y.at(12, "'"), "slot pattern is not valid RE2");
  INFO(all_messages(r.errors));
  CHECK(r.errors.size() == 6);

  // The same pattern is fine under a larger limit.
  limits.pattern_bytes = 76;
  const load_result r2 = load_intents_dir(dir.str(), limits);
  CHECK(count_errors(r2.errors, f + ":" + y.at(7, "'"), "") == 0);
}

TEST_CASE("all problems of a run are listed, across files and kinds", "[loader]") {
  temp_dir dir;
  // Each file has a different kind of problem; none hides another.
  const yaml_lines syntax{
      "intents:",
      "  - id: a",
      "    description: a: b",
  };
  const yaml_lines unknown{
      "intents:", "  - id: b", "    patterns: ['\\bb\\b']", "    responses: [B]", "    colour: red",
  };
  const yaml_lines regex{
      "intents:",
      "  - id: c",
      "    patterns: ['(c']",
      "    responses: [C]",
  };
  const yaml_lines slots{
      "intents:",
      "  - id: d",
      "    patterns: ['\\bd\\b']",
      "    responses: ['{nope}']",
  };
  const std::string fa = dir.write("a.yaml", syntax.text());
  const std::string fb = dir.write("b.yaml", unknown.text());
  const std::string fc = dir.write("c.yml", regex.text());
  const std::string fd = dir.write("d.yaml", slots.text());
  dir.write("e.txt", "not: [read");         // other extensions are ignored
  dir.write(".hidden.yaml", "not: [read");  // so are hidden files
  const load_result r = load_intents_dir(dir.str(), rule_limits{});
  CHECK_FALSE(r.rules);
  CHECK(r.files == std::vector<std::string>{fa, fb, fc, fd});
  CHECK_ERROR_AT(r.errors, fa, syntax.at(3, ": b"), "illegal map value");
  CHECK_ERROR_AT(r.errors, fb, unknown.at(5, "colour"), "unknown key 'colour'");
  CHECK_ERROR_AT(r.errors, fc, regex.at(3, "'"), "pattern is not valid RE2");
  CHECK_ERROR_AT(r.errors, fd, slots.at(4, "'"), "template {nope} names unknown slot 'nope'");
  INFO(all_messages(r.errors));
  CHECK(r.errors.size() == 4);
}

TEST_CASE("YAML syntax errors give the parser's line and column", "[loader]") {
  std::vector<load_error> errors;
  const yaml_lines unclosed{
      "intents:",
      "  - id: a",
      "    patterns: ['x'",
      "    responses: [hi]",
  };
  const auto out = parse_intents("u.yaml", unclosed.text(), errors);
  CHECK(out.empty());
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message() == "u.yaml:4:5: end of sequence flow not found");

  errors.clear();
  const yaml_lines indent{
      "intents:",
      "  - id: a",
      "   patterns: [x]",
  };
  parse_intents("i.yaml", indent.text(), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message() ==
        "i.yaml:" + indent.at(3, "patterns") + ": end of sequence not found");
}

TEST_CASE("a file over limits.rule_file_bytes is refused before it is parsed", "[loader]") {
  temp_dir dir;
  std::string text = k_valid_intent;
  text += "# " + std::string(100 - text.size() - 3, 'x') + "\n";
  REQUIRE(text.size() == 100);
  const std::string f = dir.write("size.yaml", text);
  rule_limits limits;
  limits.rule_file_bytes = 100;
  {
    const load_result r = load_intents_dir(dir.str(), limits);
    INFO(all_messages(r.errors));
    CHECK(r.errors.empty());
    CHECK(r.rules);
  }
  dir.write("size.yaml", text + "#");
  {
    const load_result r = load_intents_dir(dir.str(), limits);
    CHECK_FALSE(r.rules);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message() ==
          f + ":1:1: file is 101 bytes, over limits.rule_file_bytes (100)");
  }
}

TEST_CASE("a 1 MiB rule file loads, one byte more is refused", "[loader][bad-input]") {
  temp_dir dir;
  const rule_limits limits;  // rule_file_bytes = 1 MiB
  REQUIRE(limits.rule_file_bytes == 1 << 20);
  // Realistic content: many intents, each with patterns, a slot, examples;
  // then a comment to reach the exact size.
  std::string text = "intents:\n";
  int n = 0;
  while (text.size() < (1u << 20) - 600) {
    const std::string id = "topic_" + std::to_string(n++);
    text += "  - id: " + id + "\n" + "    description: Questions about " + id +
            "\n"
            "    patterns:\n"
            "      - '\\b(" +
            id + "|about " + id +
            ")\\b'\n"
            "      - pattern: '\\bwhat is " +
            id +
            "\\b.*\\b(price|cost)\\b'\n"
            "        weight: 0.9\n"
            "    slots:\n"
            "      order_id: '(?P<order_id>\\b[A-Z]{2}-?\\d{5,8}\\b)'\n"
            "    responses:\n"
            "      - text: Here is what we know about " +
            id +
            " for {order_id}.\n"
            "        when: { present: [order_id] }\n"
            "      - text: [\"About " +
            id + ".\", \"Let me tell you about " + id +
            ".\"]\n"
            "    examples: [tell me about " +
            id + "]\n";
  }
  text += "#";
  text += std::string((1u << 20) - text.size() - 1, '-');
  text += "\n";
  REQUIRE(text.size() == 1u << 20);
  const std::string f = dir.write("big.yaml", text);
  const auto start = std::chrono::steady_clock::now();
  const load_result r = load_intents_dir(dir.str(), limits);
  const auto took = std::chrono::steady_clock::now() - start;
  INFO(all_messages(r.errors));
  REQUIRE(r.errors.empty());
  REQUIRE(r.rules);
  CHECK(r.rules->intents().size() == static_cast<std::size_t>(n));
  CHECK(r.rules->pattern_count() == static_cast<std::size_t>(2 * n));
  CHECK(took < std::chrono::seconds(30));
  auto m = r.rules->match("tell me about topic_7 please, order AB-123456", {});
  REQUIRE(m.ok());
  REQUIRE_FALSE(m->empty());
  CHECK(m->front().rule->id == "topic_7");
  CHECK(m->front().slots.at("order_id") == "AB-123456");

  dir.write("big.yaml", text + "\n");
  const load_result over = load_intents_dir(dir.str(), limits);
  CHECK_FALSE(over.rules);
  REQUIRE(over.errors.size() == 1);
  CHECK(over.errors[0].message() ==
        f + ":1:1: file is 1048577 bytes, over limits.rule_file_bytes (1048576)");
}

TEST_CASE("deeply nested YAML is a clear error, not a crash", "[loader][bad-input]") {
  temp_dir dir;
  const std::string f = dir.write("deep.yaml", "intents: " + std::string(10000, '[') + "\n");
  dir.write("deep_map.yaml", "intents: " + std::string(10000, '{') + "\n");
  const load_result r = load_intents_dir(dir.str(), rule_limits{});
  CHECK_FALSE(r.rules);
  INFO(all_messages(r.errors));
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].message().rfind(f + ":", 0) == 0);
  CHECK(r.errors[0].what.find("nested too deeply") != std::string::npos);
  CHECK(r.errors[1].what.find("nested too deeply") != std::string::npos);
}

TEST_CASE("text that is not UTF-8 is refused where it is written", "[loader][bad-input]") {
  temp_dir dir;
  const yaml_lines y{
      "intents:",                                // 1
      "  - id: a",                               // 2
      "    description: \"bad \xff byte\"",      // 3
      "    patterns: ['\\ba\\b']",               // 4
      "    responses:",                          // 5
      "      - \"plain \xc3 text\"",             // 6
      "      - text: \"mapped \xe2\x82 text\"",  // 7
      "    quick_replies: [\"\xc0\xaf\"]",       // 8
  };
  const std::string f = dir.write("utf8.yaml", y.text());
  const load_result r = load_intents_dir(dir.str(), rule_limits{});
  CHECK_FALSE(r.rules);
  CHECK_ERROR_AT(r.errors, f, y.at(3, "\""), "description: not valid UTF-8");
  CHECK_ERROR_AT(r.errors, f, y.at(6, "\""), "not valid UTF-8");
  CHECK_ERROR_AT(r.errors, f, y.at(7, "\""), "not valid UTF-8");
  CHECK_ERROR_AT(r.errors, f, y.at(8, "\""), "not valid UTF-8");
}

TEST_CASE("emoji, Cyrillic and CJK rules load and match", "[loader][bad-input]") {
  temp_dir dir;
  // RE2's \b is an ASCII word boundary: it never matches next to Cyrillic
  // or CJK letters, so these rules do without it.
  dir.write("intl.yaml",
            "intents:\n"
            "  - id: hello.ru\n"
            "    patterns: ['(^|[ ,.!?])привет($|[ ,.!?])']\n"
            "    responses: [Здравствуйте!]\n"
            "  - id: hello.zh\n"
            "    patterns: ['你好']\n"
            "    responses: [您好！]\n"
            "  - id: thanks.emoji\n"
            "    patterns: ['(🙏|👍)']\n"
            "    responses: [\"😊\"]\n");
  const load_result r = load_intents_dir(dir.str(), rule_limits{});
  INFO(all_messages(r.errors));
  REQUIRE(r.rules);
  const auto top = [&](const std::string& text) {
    auto m = r.rules->match(text, {});
    REQUIRE(m.ok());
    return m->empty() ? std::string("-") : m->front().rule->id;
  };
  CHECK(top("ПРИВЕТ, как дела?") == "hello.ru");
  CHECK(top("Привет") == "hello.ru");
  CHECK(top("приветствие") == "-");  // a longer word is not the word
  CHECK(top("你好，我的订单在哪里") == "hello.zh");
  CHECK(top("thanks 👍") == "thanks.emoji");
  CHECK(top("🙂") == "-");
  CHECK(r.rules->find("hello.zh")->responses[0].texts[0] == "您好！");
}

TEST_CASE("the folder itself must exist", "[loader]") {
  temp_dir dir;
  const load_result r = load_intents_dir(dir.file("missing"), rule_limits{});
  CHECK_FALSE(r.rules);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].what == "not a folder");

  // An empty folder is a valid (empty) rule set; so is an empty file.
  dir.write("empty.yaml", "");
  dir.write("comments.yaml", "# nothing yet\n");
  dir.write("null.yaml", "intents:\n");
  const load_result e = load_intents_dir(dir.str(), rule_limits{});
  INFO(all_messages(e.errors));
  REQUIRE(e.rules);
  CHECK(e.rules->intents().empty());
  auto m = e.rules->match("anything at all", {});
  REQUIRE(m.ok());
  CHECK(m->empty());
}
