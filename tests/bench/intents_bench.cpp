// Intent matching and loading throughput.
//
// A generated rule base shaped like intents/*.yaml (word alternations with
// \b, some with .*, some anchored, some intents with an order-number slot or
// an exclude), written as YAML files and loaded with load_intents_dir.
// Messages are 5-12 words, mixed case and punctuation; half of them hit one
// intent, half hit none.
//
//   BM_match/patterns:1000/mix:0..2   rule_set::match (normalise, Set match,
//                                     excludes, per-pattern RE2 on the hits,
//                                     slots), single thread: items_per_second
//                                     is messages/s per core. mix 0 = misses,
//                                     1 = half hits, 2 = hits (intents drawn
//                                     uniformly), 3 = hits with intents drawn
//                                     by popularity (Zipf: the k-th intent
//                                     1/k as often, as in support traffic).
//   BM_set_and_slots/mix:N            what the target names: normalise, the
//                                     Set pass and the slots of its hits
//   BM_match_few/distinct:N           mix 2 cycled over N distinct messages
//   BM_route/patterns:1000            dialog::router::route on the half-hit mix
//   BM_match_samples                  the shipped intents/ on their examples
//                                     and not_examples, plus as many misses
//   BM_normalize                      core::normalize alone, for scale
//   BM_load_intents/intents:N         load_intents_dir: read, parse, validate,
//                                     compile N intents of 4 patterns each
//
// Run from a Release build:
//   build/tests/bench/intents_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bot/core/text.hpp"
#include "bot/dialog/router.hpp"
#include "bot/intents/loader.hpp"
#include "bot/intents/rule_set.hpp"
#include "tests/temp_dir.hpp"

using namespace bot;

namespace {

using bot::testing::temp_dir;

// Words visitors use that no pattern needs on its own.
const char* const k_filler[] = {
    "i",     "the",   "my",     "a",     "please", "hi",     "can",   "you",   "help",   "with",
    "it",    "is",    "to",     "for",   "and",    "this",   "that",  "was",   "have",   "not",
    "what",  "do",    "we",     "get",   "when",   "how",    "there", "some",  "just",   "thanks",
    "would", "like",  "need",   "know",  "about",  "me",     "on",    "in",    "of",     "at",
    "be",    "so",    "any",    "one",   "all",    "your",   "our",   "they",  "been",   "yet",
    "now",   "still", "here",   "hello", "again",  "really", "maybe", "could", "should", "today",
    "week",  "ago",   "friend", "said",  "think",  "sure",   "ok",    "well",  "also",   "very"};

// A rule base and messages for it, all from one seed.
struct corpus {
  struct pattern_gen {
    std::string regex;
    double weight = 1.0;
    std::vector<std::string> hit;  // words that make it match, in order ("" = none)
    bool adjacent = false;         // the hit words must be next to each other
  };
  struct intent_gen {
    std::string id;
    std::vector<pattern_gen> patterns;
    std::vector<std::string> excludes;
    bool slot = false;
  };

  std::vector<std::string> vocab;
  std::vector<intent_gen> intents;

  corpus(std::size_t n_intents, std::size_t patterns_per_intent, std::uint64_t seed) : gen_(seed) {
    make_vocab(1500);
    for (std::size_t i = 0; i < n_intents; ++i) {
      intent_gen in;
      in.id = "topic_" + std::to_string(i);
      in.slot = i % 5 == 0;
      for (std::size_t p = 0; p < patterns_per_intent; ++p)
        in.patterns.push_back(make_pattern(i * 7 + p));
      if (i % 10 == 3) in.excludes.push_back("\\b(" + word() + "|" + word() + ")\\b");
      intents.push_back(std::move(in));
    }
  }

  // The intents as YAML files of `per_file` intents each.
  void write_yaml(const temp_dir& dir, std::size_t per_file) const {
    std::string text;
    std::size_t file = 0;
    for (std::size_t i = 0; i < intents.size(); ++i) {
      const intent_gen& in = intents[i];
      if (text.empty()) text = "# generated for intents_bench\nintents:\n";
      text +=
          "  - id: " + in.id + "\n    description: Questions about " + in.id + "\n    patterns:\n";
      for (const auto& p : in.patterns) {
        if (p.weight == 1.0) {
          text += "      - '" + p.regex + "'\n";
        } else {
          text += "      - pattern: '" + p.regex +
                  "'\n        weight: " + std::to_string(p.weight) + "\n";
        }
      }
      if (!in.excludes.empty()) {
        text += "    exclude:\n";
        for (const auto& e : in.excludes) text += "      - '" + e + "'\n";
      }
      if (in.slot) {
        text += "    slots:\n      order_id: '(?P<order_id>\\b[A-Z]{2}-?\\d{5,8}\\b)'\n";
        text += "    sets_context: { topic: orders }\n";
        text +=
            "    responses:\n      - when: { missing: [order_id] }\n"
            "        text: What is the order number?\n        expect: order_id\n"
            "      - text: [\"Order {order_id}: here is the news.\", \"About {order_id}: all "
            "good.\"]\n";
      } else {
        text += "    responses:\n      - text: [\"Here is what we know about " + in.id +
                ".\", \"About " + in.id + ": see the help pages.\"]\n";
      }
      text += "    quick_replies: [\"Talk to a person\"]\n";
      for (const auto& p : in.patterns) {
        if (p.hit.empty()) continue;
        text += "    examples: [\"" + hit_phrase(p) + "\"]\n";
        break;
      }
      if ((i + 1) % per_file == 0 || i + 1 == intents.size()) {
        char name[32];
        std::snprintf(name, sizeof name, "gen_%04zu.yaml", file++);
        dir.write(name, text);
        text.clear();
      }
    }
  }

  // `count` messages of 5-12 words; a fraction `hits` of them are made to
  // match one intent's pattern.
  std::vector<std::string> messages(std::size_t count, double hits, bool zipf = false) {
    std::vector<std::string> out;
    std::uniform_real_distribution<double> coin(0, 1);
    std::vector<double> weights;
    for (std::size_t k = 0; k < intents.size(); ++k) weights.push_back(1.0 / double(k + 1));
    std::discrete_distribution<std::size_t> pick(weights.begin(), weights.end());
    for (std::size_t m = 0; m < count; ++m) {
      const std::size_t n_words = 5 + gen_() % 8;
      std::vector<std::string> words;
      for (std::size_t w = 0; w < n_words; ++w) words.push_back(filler());
      if (coin(gen_) < hits) {
        const intent_gen& in = intents[zipf ? pick(gen_) : gen_() % intents.size()];
        const pattern_gen* p = nullptr;
        while (!p) {
          const pattern_gen& c = in.patterns[gen_() % in.patterns.size()];
          if (!c.hit.empty()) p = &c;
        }
        std::vector<std::string> hit = p->hit;
        if (in.slot && coin(gen_) < 0.5) hit.push_back(order_number());
        // Replace filler words with the hit words, in order, keeping the
        // message 5-12 words long.
        if (p->adjacent) {
          const std::size_t at = gen_() % (words.size() - hit.size() + 1);
          for (std::size_t k = 0; k < hit.size(); ++k) words[at + k] = hit[k];
        } else {
          std::set<std::size_t> slots;
          while (slots.size() < hit.size()) slots.insert(gen_() % words.size());
          std::size_t k = 0;
          for (std::size_t s : slots) words[s] = hit[k++];
        }
      }
      std::string text;
      for (const auto& w : words) text += (text.empty() ? "" : " ") + w;
      if (gen_() % 2)
        text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
      static const char* const ends[] = {"", "?", "!", ".", " ?", "??"};
      text += ends[gen_() % 6];
      out.push_back(std::move(text));
    }
    return out;
  }

 private:
  std::string word() { return vocab[gen_() % vocab.size()]; }
  std::string filler() { return k_filler[gen_() % (sizeof k_filler / sizeof k_filler[0])]; }
  std::string order_number() {
    std::string s;
    s += static_cast<char>('A' + gen_() % 26);
    s += static_cast<char>('A' + gen_() % 26);
    s += '-';
    for (int i = 0; i < 6; ++i) s += static_cast<char>('0' + gen_() % 10);
    return s;
  }
  std::string alternation(std::size_t n, std::vector<std::string>& pick_from) {
    std::string out = "(";
    for (std::size_t k = 0; k < n; ++k) {
      const std::string w = word();
      pick_from.push_back(w);
      out += (k ? "|" : "") + w;
    }
    return out + ")";
  }
  std::string hit_phrase(const pattern_gen& p) const {
    std::string s;
    for (const auto& w : p.hit) s += (s.empty() ? "" : " ") + w;
    return s;
  }

  void make_vocab(std::size_t n) {
    static const char* const onset[] = {"b",  "c",  "d",  "f",  "g",  "h",  "k",  "l",  "m",  "n",
                                        "p",  "r",  "s",  "t",  "v",  "w",  "z",  "br", "ch", "cl",
                                        "dr", "fl", "gr", "pl", "sh", "sl", "sp", "st", "tr"};
    static const char* const nucleus[] = {"a", "e", "i", "o", "u", "ai", "ea", "oo", "ou"};
    static const char* const coda[] = {"", "", "n", "r", "s", "t", "ck", "ll", "nd", "rt", "sh"};
    std::set<std::string> seen(std::begin(k_filler), std::end(k_filler));
    while (vocab.size() < n) {
      std::string w;
      const int syllables = 1 + static_cast<int>(gen_() % 3);
      for (int s = 0; s < syllables; ++s) {
        w += onset[gen_() % (sizeof onset / sizeof onset[0])];
        w += nucleus[gen_() % (sizeof nucleus / sizeof nucleus[0])];
      }
      w += coda[gen_() % (sizeof coda / sizeof coda[0])];
      if (w.size() >= 4 && seen.insert(w).second) vocab.push_back(w);
    }
  }

  pattern_gen make_pattern(std::size_t kind) {
    pattern_gen p;
    std::vector<std::string> a, b, c;
    switch (kind % 10) {
      case 0:
      case 1:
      case 2:
      case 3:  // like order_status's first pattern
        p.regex = "\\b" + alternation(3, a) + "\\b.*\\b" + alternation(3, b) + "\\b";
        p.hit = {a[gen_() % 3], b[gen_() % 3]};
        break;
      case 4:
      case 5:
      case 6: {  // a phrase
        static const char* const link[] = {"for", "with", "of"};
        const std::string l = link[gen_() % 3];
        p.regex = "\\b" + alternation(2, a) + " (for|with|of) " + alternation(3, b) + "\\b";
        p.hit = {a[gen_() % 2] + " " + l + " " + b[gen_() % 3]};
        break;
      }
      case 7: {  // a stem
        const std::string stem = word();
        p.regex = "\\b" + stem + "\\w* " + alternation(2, a) + "\\b";
        p.hit = {stem + "ing " + a[gen_() % 2]};
        p.weight = 0.9;
        break;
      }
      case 8:  // three parts
        p.regex = "\\b" + alternation(2, a) + "\\b.*\\b" + alternation(2, b) + "\\w*\\b.*\\b" +
                  alternation(2, c) + "\\b";
        p.hit = {a[gen_() % 2], b[gen_() % 2], c[gen_() % 2]};
        break;
      default:  // anchored short answer: only whole short messages
        p.regex = "^" + alternation(2, a) + "( " + word() + ")?[ ?!.]*$";
        p.weight = 0.8;
        break;
    }
    p.adjacent = p.hit.size() == 1;
    return p;
  }

  std::mt19937_64 gen_;
};

struct fixture {
  fixture(std::size_t n_intents, std::size_t patterns_per_intent)
      : data(n_intents, patterns_per_intent, 20240601) {
    data.write_yaml(dir, 100);
    auto r = intents::load_intents_dir(dir.str(), intents::rule_limits{});
    if (!r.errors.empty()) {
      error = r.errors.front().message() + " (" + std::to_string(r.errors.size()) + " errors)";
      return;
    }
    rules = r.rules;
  }
  temp_dir dir;
  corpus data;
  std::shared_ptr<const intents::rule_set> rules;
  std::string error;
};

// 1,000 patterns: 250 intents of 4.
fixture& matching_fixture() {
  static fixture f(250, 4);
  return f;
}

// RE2 builds its DFA states lazily, during the first matches: one pass over
// the messages first, so that runs in any order measure the same regime
// (mostly warm; diverse text keeps adding states).
void warm_up(const intents::rule_set& rules, const std::vector<std::string>& messages) {
  for (const auto& m : messages) benchmark::DoNotOptimize(rules.match(m, {}));
}

void BM_match(benchmark::State& state) {
  fixture& f = matching_fixture();
  if (!f.rules) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const double hits = std::min(1.0, static_cast<double>(state.range(1)) / 2.0);
  const auto messages = f.data.messages(4096, hits, state.range(1) == 3);
  const intents::context_map ctx;
  warm_up(*f.rules, messages);
  std::size_t i = 0;
  std::int64_t matched = 0, candidates = 0, slots = 0, failures = 0;
  for (auto _ : state) {
    auto r = f.rules->match(messages[i++ & 4095], ctx);
    if (!r.ok()) {
      ++failures;
      continue;
    }
    matched += !r->empty();
    candidates += static_cast<std::int64_t>(r->size());
    for (const auto& m : *r) slots += static_cast<std::int64_t>(m.slots.size());
    benchmark::DoNotOptimize(r);
  }
  if (failures) state.SkipWithError("match failed");
  const double n = static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_rate"] = static_cast<double>(matched) / n;
  state.counters["cands_per_msg"] = static_cast<double>(candidates) / n;
  state.counters["slots_per_msg"] = static_cast<double>(slots) / n;
  state.counters["patterns"] = static_cast<double>(f.rules->pattern_count());
}
BENCHMARK(BM_match)
    ->ArgNames({"patterns", "mix"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({1000, 2})
    ->Args({1000, 3});

// Hit messages cycled over N distinct messages: with few, the Set's DFA
// states stay in the CPU cache; with thousands they do not.
void BM_match_few(benchmark::State& state) {
  fixture& f = matching_fixture();
  if (!f.rules) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto messages = f.data.messages(n, 1.0);
  const intents::context_map ctx;
  warm_up(*f.rules, messages);
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = f.rules->match(messages[i++ % n], ctx);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_match_few)->ArgName("distinct")->Arg(16)->Arg(256)->Arg(4096);

// What the issue's target names, "the Set match plus slot extraction of the
// hits", and no more: normalise, one pass of an RE2::Set compiled as
// rule_set compiles it (case-insensitive, no captures), then each hit
// intent's slots through rule_set::extract_slot on the original text. The
// rest of BM_match (excludes, the confidence of each hit, the candidates
// list) is left out. Same mixes as BM_match (1, 2, 3).
void BM_set_and_slots(benchmark::State& state) {
  fixture& f = matching_fixture();
  if (!f.rules) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  RE2::Options o;
  o.set_case_sensitive(false);
  o.set_never_capture(true);
  o.set_max_mem(std::int64_t(intents::rule_limits{}.re2_max_mem_mb) << 20);
  RE2::Set set(o, RE2::UNANCHORED);
  std::vector<const intents::intent*> owner;  // Set index -> intent
  for (std::size_t i = 0; i < f.data.intents.size(); ++i) {
    for (const auto& p : f.data.intents[i].patterns) {
      if (set.Add(p.regex, nullptr) < 0) {
        state.SkipWithError("a pattern does not compile");
        return;
      }
      owner.push_back(&f.rules->intents()[i]);
    }
  }
  if (!set.Compile()) {
    state.SkipWithError("the Set does not compile");
    return;
  }
  const double hits = std::min(1.0, static_cast<double>(state.range(0)) / 2.0);
  const auto messages = f.data.messages(4096, hits, state.range(0) == 3);
  std::vector<int> v;
  std::int64_t matched = 0, slots = 0;
  const auto run = [&](const std::string& original) {
    const std::string text = core::normalize(original);
    if (!set.Match(text, &v)) return;
    ++matched;
    std::sort(v.begin(), v.end());
    const intents::intent* last = nullptr;
    for (int h : v) {
      const intents::intent* in = owner[static_cast<std::size_t>(h)];
      if (in == last) continue;
      last = in;
      for (const auto& slot : in->slots)
        slots += f.rules->extract_slot(*in, slot.name, original).has_value();
    }
  };
  for (const auto& m : messages) run(m);
  matched = slots = 0;
  std::size_t i = 0;
  for (auto _ : state) run(messages[i++ & 4095]);
  const double n = static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_rate"] = static_cast<double>(matched) / n;
  state.counters["slots_per_msg"] = static_cast<double>(slots) / n;
}
BENCHMARK(BM_set_and_slots)->ArgName("mix")->Arg(1)->Arg(2)->Arg(3);

void BM_route(benchmark::State& state) {
  fixture& f = matching_fixture();
  if (!f.rules) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const auto messages = f.data.messages(4096, 0.5);
  warm_up(*f.rules, messages);
  dialog::snapshot snap;
  snap.rules = f.rules;
  const dialog::router router{core::routing_config{}};
  std::mt19937_64 rng(1);
  std::size_t i = 0;
  std::int64_t answers = 0;
  for (auto _ : state) {
    dialog::dialog_state s;
    const dialog::decision d = router.route(messages[i++ & 4095], s, snap, rng);
    answers += d.kind == dialog::decision_kind::answer;
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["answer_rate"] =
      static_cast<double>(answers) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_route)->ArgName("patterns")->Arg(1000);

// The shipped rules (intents/*.yaml) on their own examples and not_examples
// (the `check` corpus) plus as many generated out-of-scope messages.
void BM_match_samples(benchmark::State& state) {
  const auto r = intents::load_intents_dir(std::string(SUPPORTBOT_SOURCE_DIR) + "/intents",
                                           intents::rule_limits{});
  if (!r.rules) {
    state.SkipWithError(r.errors.empty() ? "no rules" : r.errors.front().message().c_str());
    return;
  }
  std::vector<std::string> messages;
  for (const auto& in : r.rules->intents()) {
    for (const auto& e : in.examples) messages.push_back(e.text);
    for (const auto& e : in.not_examples) messages.push_back(e.text);
  }
  corpus misses(10, 4, 5);
  const std::size_t in_scope = messages.size();
  for (auto& m : misses.messages(in_scope, 0.0)) messages.push_back(std::move(m));
  warm_up(*r.rules, messages);
  std::size_t i = 0;
  std::int64_t matched = 0;
  for (auto _ : state) {
    auto m = r.rules->match(messages[i++ % messages.size()], {});
    matched += m.ok() && !m->empty();
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["messages"] = static_cast<double>(messages.size());
  state.counters["hit_rate"] =
      static_cast<double>(matched) / static_cast<double>(state.iterations());
  state.counters["patterns"] = static_cast<double>(r.rules->pattern_count());
}
BENCHMARK(BM_match_samples);

void BM_normalize(benchmark::State& state) {
  corpus data(10, 4, 7);
  const auto messages = data.messages(4096, 0.5);
  std::size_t i = 0;
  for (auto _ : state) {
    auto s = core::normalize(messages[i++ & 4095]);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_normalize);

void BM_load_intents(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  corpus data(n, 4, 99);
  temp_dir dir;
  data.write_yaml(dir, 100);
  std::size_t patterns = 0;
  for (auto _ : state) {
    auto r = intents::load_intents_dir(dir.str(), intents::rule_limits{});
    if (!r.rules) {
      state.SkipWithError(r.errors.empty() ? "no rules" : r.errors.front().message().c_str());
      return;
    }
    patterns = r.rules->pattern_count();
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.counters["patterns"] = static_cast<double>(patterns);
}
BENCHMARK(BM_load_intents)->ArgName("intents")->Arg(250)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
