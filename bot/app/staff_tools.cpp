// The staff tools (DESIGN §10): check, ask, test. Each loads the rules the
// same way the server does and calls dialog::router::route, the server's own
// code path, so what they show is what visitors get.
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>

#include "bot/app/commands.hpp"
#include "bot/app/config_file.hpp"
#include "bot/app/rules.hpp"
#include "bot/core/text.hpp"
#include "bot/dialog/router.hpp"
#include "bot/kb/article.hpp"
#include "bot/kb/index.hpp"

namespace bot::app {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

struct options {
  bool json = false;
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> context;
  std::uint64_t seed = 0;
  bool has_seed = false;
};

// Parses --json, --context k=v and --seed N; returns false (after printing)
// on a usage error.
bool parse_options(const char* cmd, const std::vector<std::string>& args, options& o) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      o.json = true;
    } else if (a == "--context" || a == "--seed") {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "supportbot %s: %s needs a value\n", cmd, a.c_str());
        return false;
      }
      const std::string& v = args[++i];
      if (a == "--seed") {
        try {
          o.seed = std::stoull(v);
          o.has_seed = true;
        } catch (const std::exception&) {
          std::fprintf(stderr, "supportbot %s: --seed needs a number\n", cmd);
          return false;
        }
        continue;
      }
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(stderr, "supportbot %s: --context needs key=value, got '%s'\n", cmd, v.c_str());
        return false;
      }
      o.context.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "supportbot %s: unknown option '%s'\n", cmd, a.c_str());
      return false;
    } else {
      o.positional.push_back(a);
    }
  }
  return true;
}

json::object candidate_json(const dialog::candidate& c) {
  json::object o;
  o["kind"] = c.kind;
  o["id"] = c.id;
  o["title"] = c.title;
  o["confidence"] = c.confidence;
  o["priority"] = c.priority;
  o["matched_by"] = c.why;
  o["matched_text"] = c.matched_text;
  json::object slots;
  for (const auto& [k, v] : c.slots) slots[k] = v;
  o["slots"] = std::move(slots);
  return o;
}

json::object decision_json(const dialog::decision& d) {
  json::object o;
  o["decision"] = dialog::decision_name(d.kind);
  o["reply"] = d.text;
  json::array qr;
  for (const auto& q : d.quick_replies) qr.emplace_back(q);
  o["quick_replies"] = std::move(qr);
  json::object source;
  source["kind"] = d.source_kind;
  source["id"] = d.source_id;
  source["confidence"] = d.confidence;
  o["source"] = std::move(source);
  if (d.kind == dialog::decision_kind::handoff) {
    o["handoff"] = json::object{{"team", d.handoff_team}, {"reason", d.handoff_reason}};
  }
  if (d.close) o["close"] = true;
  if (!d.error.ok()) o["error"] = d.error.message();
  json::array cands;
  for (const auto& c : d.candidates) cands.push_back(candidate_json(c));
  o["candidates"] = std::move(cands);
  return o;
}

void print_json(const json::value& v) {
  const std::string s = json::serialize(v);
  std::printf("%s\n", s.c_str());
}

std::string pct(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

int cmd_check(const command_context& ctx) {
  options o;
  if (!parse_options("check", ctx.args, o)) return 2;
  if (!o.positional.empty()) {
    std::fprintf(stderr, "supportbot check: unexpected argument '%s'\n", o.positional[0].c_str());
    return 2;
  }
  auto cfg = load_config({ctx.config_path, process_environment()});
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.error().message().c_str());
    return 1;
  }
  const rules_report rep = load_and_check_rules(*cfg);
  if (o.json) {
    json::object out;
    out["ok"] = rep.ok();
    out["intents_dir"] = cfg->intents_dir;
    out["files"] = rep.files;
    out["intents"] = rep.intents;
    out["patterns"] = rep.patterns;
    out["examples"] = rep.examples;
    out["examples_passed"] = rep.examples_passed;
    json::array errors;
    for (const auto& e : rep.errors) errors.emplace_back(e);
    out["errors"] = std::move(errors);
    print_json(out);
  } else {
    std::printf("%s: %zu intents in %zu files, %zu patterns\n", cfg->intents_dir.c_str(), rep.intents,
                rep.files, rep.patterns);
    if (rep.loaded) {
      std::printf("examples: %zu/%zu passed\n", rep.examples_passed, rep.examples);
    }
    for (const auto& e : rep.errors) std::printf("%s\n", e.c_str());
    std::printf(rep.ok() ? "OK\n" : "FAILED: %zu error(s)\n", rep.errors.size());
  }
  return rep.ok() ? 0 : 1;
}

int cmd_ask(const command_context& ctx) {
  options o;
  if (!parse_options("ask", ctx.args, o)) return 2;
  if (o.positional.size() != 1) {
    std::fprintf(stderr, "usage: supportbot ask \"text\" [--context k=v]... [--json]\n");
    return 2;
  }
  auto cfg = load_config({ctx.config_path, process_environment()});
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.error().message().c_str());
    return 1;
  }
  auto snap = load_snapshot(*cfg);
  if (!snap.ok()) {
    std::fprintf(stderr, "%s\n", snap.error().message().c_str());
    return 1;
  }
  dialog::router router(cfg->routing);
  dialog::dialog_state state;
  for (const auto& [k, v] : o.context) state.context[k] = {v, cfg->routing.context_ttl + 1};
  std::mt19937_64 rng(o.has_seed ? o.seed : std::random_device{}());
  const dialog::decision d = router.route(o.positional[0], state, *snap, rng);
  if (o.json) {
    print_json(decision_json(d));
    return 0;
  }
  std::printf("decision:  %s", std::string(dialog::decision_name(d.kind)).c_str());
  if (!d.source_id.empty()) std::printf(" (%s %s, confidence %s)", d.source_kind.c_str(), d.source_id.c_str(), pct(d.confidence).c_str());
  std::printf("\n");
  if (d.kind == dialog::decision_kind::handoff) {
    std::printf("handoff:   team %s, reason %s\n", d.handoff_team.c_str(), d.handoff_reason.c_str());
  }
  std::printf("reply:     %s\n", d.text.c_str());
  if (!d.quick_replies.empty()) {
    std::printf("quick replies:");
    for (const auto& q : d.quick_replies) std::printf(" [%s]", q.c_str());
    std::printf("\n");
  }
  if (!d.error.ok()) std::printf("error:     %s\n", d.error.message().c_str());
  if (d.candidates.empty()) {
    std::printf("candidates: none matched\n");
    return 0;
  }
  std::printf("candidates:\n");
  int n = 0;
  for (const auto& c : d.candidates) {
    if (++n > 5) break;
    std::printf("  %d. %s %-28s %s", n, c.kind.c_str(), c.id.c_str(), pct(c.confidence).c_str());
    if (c.priority != 0) std::printf("  priority %d", c.priority);
    std::printf("\n     matched by: %s\n", c.why.c_str());
    if (!c.matched_text.empty()) std::printf("     matched:    \"%s\"\n", c.matched_text.c_str());
    if (!c.slots.empty()) {
      std::printf("     slots:     ");
      for (const auto& [k, v] : c.slots) std::printf(" %s=%s", k.c_str(), v.c_str());
      std::printf("\n");
    }
  }
  return 0;
}

}  // namespace bot::app

namespace bot::app {

int cmd_kb(const command_context& ctx) {
  if (ctx.args.empty() || (ctx.args[0] != "search" && ctx.args[0] != "stats")) {
    std::fprintf(stderr, "usage: supportbot kb search \"text\" [--limit N] [--json] | supportbot kb stats [--json]\n");
    return 2;
  }
  const bool search = ctx.args[0] == "search";
  bool as_json = false;
  std::size_t limit = 5;
  std::string text;
  for (std::size_t i = 1; i < ctx.args.size(); ++i) {
    const std::string& a = ctx.args[i];
    if (a == "--json") {
      as_json = true;
    } else if (a == "--limit" && i + 1 < ctx.args.size()) {
      try {
        limit = static_cast<std::size_t>(std::stoul(ctx.args[++i]));
      } catch (const std::exception&) {
        std::fprintf(stderr, "supportbot kb: --limit needs a number\n");
        return 2;
      }
    } else if (a.rfind("--", 0) == 0 || !search || !text.empty()) {
      std::fprintf(stderr, "supportbot kb: unexpected argument '%s'\n", a.c_str());
      return 2;
    } else {
      text = a;
    }
  }
  if (search && text.empty()) {
    std::fprintf(stderr, "usage: supportbot kb search \"text\" [--limit N] [--json]\n");
    return 2;
  }
  auto cfg = load_config({ctx.config_path, process_environment()});
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.error().message().c_str());
    return 1;
  }
  kb::kb_limits kl;
  kl.file_bytes = cfg->limits.rule_file_bytes;
  kb::kb_files files = kb::load_kb_dir(cfg->kb_dir, kl);
  if (!files.errors.empty()) {
    for (const auto& e : files.errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  const std::size_t file_count = files.files;
  auto index = kb::kb_index::build(std::move(files));
  if (!index.ok()) {
    std::fprintf(stderr, "%s: cannot index: %s\n", cfg->kb_dir.c_str(), index.error().message().c_str());
    return 1;
  }
  const kb::kb_index& idx = *index.value();
  if (!search) {
    const auto& st = idx.stats();
    if (as_json) {
      json::object o{{"kb_dir", cfg->kb_dir},
                     {"files", file_count},
                     {"articles", st.articles},
                     {"variants", st.variants},
                     {"vocabulary", st.vocabulary},
                     {"synonym_groups", st.synonym_groups},
                     {"held_out", st.held_out},
                     {"train_accuracy", st.train_accuracy},
                     {"build_ms", st.build_ms}};
      print_json(o);
    } else {
      std::printf("%s: %zu files, %zu articles, %zu question variants (titles included)\n", cfg->kb_dir.c_str(),
                  file_count, st.articles, st.variants);
      std::printf("vocabulary: %zu word features, %zu synonym groups\n", st.vocabulary, st.synonym_groups);
      std::printf("model: %.1f%% of variants ranked to their own article, %zu held out for calibration\n",
                  100 * st.train_accuracy, st.held_out);
      std::printf("indexed and trained in %.0f ms\n", st.build_ms);
    }
    return 0;
  }
  const auto matches = idx.search(text, limit);
  const auto fts = idx.fts_search(text, limit);
  if (as_json) {
    json::array arr;
    for (const auto& m : matches) {
      json::array terms, corrected;
      for (const auto& t : m.terms) terms.emplace_back(t);
      for (const auto& c : m.corrected) corrected.emplace_back(c);
      arr.push_back(json::object{{"id", m.art->id},
                                 {"title", m.art->title},
                                 {"confidence", m.confidence},
                                 {"probability", m.probability},
                                 {"calibrated", m.calibrated},
                                 {"similarity", m.similarity},
                                 {"coverage", m.coverage},
                                 {"nearest_variant", m.nearest},
                                 {"terms", std::move(terms)},
                                 {"corrected", std::move(corrected)}});
    }
    json::array farr;
    for (const auto& [a, score] : fts) farr.push_back(json::object{{"id", a->id}, {"bm25", score}});
    print_json(json::object{{"query", text}, {"results", std::move(arr)}, {"fts5", std::move(farr)}});
    return 0;
  }
  if (matches.empty()) {
    std::printf("no article shares a word with this message\n");
  }
  int n = 0;
  for (const auto& m : matches) {
    std::printf("%d. %-32s confidence %s  (probability %s, similarity %s, known words %s)\n", ++n, m.art->id.c_str(),
                pct(m.confidence).c_str(), pct(m.probability).c_str(), pct(m.similarity).c_str(),
                pct(m.coverage).c_str());
    std::printf("   %s\n", m.art->title.c_str());
    if (!m.nearest.empty()) std::printf("   nearest variant: \"%s\"\n", m.nearest.c_str());
    if (!m.terms.empty()) {
      std::printf("   shared terms:");
      for (const auto& t : m.terms) std::printf(" %s", t.c_str());
      std::printf("\n");
    }
    if (n == 1 && !m.corrected.empty()) {
      std::printf("   typo corrections:");
      for (const auto& c : m.corrected) std::printf(" %s", c.c_str());
      std::printf("\n");
    }
  }
  if (!fts.empty()) {
    std::printf("FTS5 (bm25 over title x4, questions x2, body x1):");
    for (const auto& [a, score] : fts) std::printf(" %s %.2f", a->id.c_str(), score);
    std::printf("\n");
  }
  return 0;
}

}  // namespace bot::app
