// `supportbot test`: scripted conversations (tests/conversations/*.yaml,
// format in docs/staff-tools.md) run through the server's router, with a
// readable diff for every expectation that does not hold.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>

#include "bot/app/commands.hpp"
#include "bot/app/config_file.hpp"
#include "bot/app/rules.hpp"
#include "bot/dialog/router.hpp"

namespace bot::app {
namespace {

namespace fs = std::filesystem;

struct expectation {
  std::string decision, intent, article, contains, state;
  std::map<std::string, std::string> slots;
};

struct turn {
  std::string text;
  bool payload = false;
  expectation expect;
  int line = 0;
};

struct script {
  std::string file;
  std::string name;
  std::map<std::string, std::string> context;
  std::vector<turn> turns;
};

std::string where(const std::string& file, const YAML::Node& n) {
  return file + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1) + ": ";
}

bool read_map(const std::string& file, const YAML::Node& n, const std::string& what,
              std::map<std::string, std::string>& out, std::vector<std::string>& errors) {
  if (!n.IsMap()) {
    errors.push_back(where(file, n) + what + ": expected a map of key: value");
    return false;
  }
  for (const auto& kv : n) {
    if (!kv.second.IsScalar()) {
      errors.push_back(where(file, kv.second) + what + "." + kv.first.Scalar() + ": expected a value");
      continue;
    }
    out[kv.first.Scalar()] = kv.second.Scalar();
  }
  return true;
}

bool parse_script(const std::string& file, script& s, std::vector<std::string>& errors) {
  s.file = file;
  const std::size_t before = errors.size();
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::ParserException& e) {
    errors.push_back(file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                     ": " + e.msg);
    return false;
  } catch (const YAML::Exception& e) {
    errors.push_back(file + ": " + e.what());
    return false;
  }
  if (!root.IsMap()) {
    errors.push_back(file + ": expected a map with name and turns");
    return false;
  }
  static const std::vector<std::string> decisions = {"answer", "clarify", "fallback", "handoff"};
  static const std::vector<std::string> states = {"bot", "queued", "agent", "ticket", "closed"};
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.Scalar();
      if (key == "name") {
        s.name = kv.second.Scalar();
      } else if (key == "context") {
        read_map(file, kv.second, "context", s.context, errors);
      } else if (key == "turns") {
        if (!kv.second.IsSequence() || kv.second.size() == 0) {
          errors.push_back(where(file, kv.second) + "turns: expected a non-empty list");
          continue;
        }
        for (const auto& t : kv.second) {
          turn tr;
          tr.line = t.Mark().line + 1;
          int said = 0;
          if (!t.IsMap()) {
            errors.push_back(where(file, t) + "a turn is a map with visitor (or payload) and expect");
            continue;
          }
          for (const auto& f : t) {
            const std::string fk = f.first.Scalar();
            if (fk == "visitor" || fk == "payload") {
              tr.text = f.second.Scalar();
              tr.payload = fk == "payload";
              ++said;
            } else if (fk == "expect") {
              std::map<std::string, std::string> plain;
              if (!f.second.IsMap()) {
                errors.push_back(where(file, f.second) + "expect: expected a map");
                continue;
              }
              for (const auto& e : f.second) {
                const std::string ek = e.first.Scalar();
                if (ek == "slots") {
                  read_map(file, e.second, "slots", tr.expect.slots, errors);
                  continue;
                }
                if (!e.second.IsScalar()) {
                  errors.push_back(where(file, e.second) + "expect." + ek + ": expected a value");
                  continue;
                }
                const std::string v = e.second.Scalar();
                if (ek == "decision") {
                  if (std::find(decisions.begin(), decisions.end(), v) == decisions.end()) {
                    errors.push_back(where(file, e.second) + "decision '" + v +
                                     "' is not one of answer, clarify, fallback, handoff");
                  }
                  tr.expect.decision = v;
                } else if (ek == "intent") {
                  tr.expect.intent = v;
                } else if (ek == "article") {
                  tr.expect.article = v;
                } else if (ek == "contains") {
                  tr.expect.contains = v;
                } else if (ek == "state") {
                  if (std::find(states.begin(), states.end(), v) == states.end()) {
                    errors.push_back(where(file, e.second) + "state '" + v + "' is not a conversation state");
                  }
                  tr.expect.state = v;
                } else {
                  errors.push_back(where(file, e.first) + "unknown key '" + ek +
                                   "' in expect (decision, intent, article, contains, state, slots)");
                }
              }
            } else {
              errors.push_back(where(file, f.first) + "unknown key '" + fk + "' in a turn (visitor, payload, expect)");
            }
          }
          if (said != 1) errors.push_back(where(file, t) + "a turn needs exactly one of visitor or payload");
          s.turns.push_back(std::move(tr));
        }
      } else {
        errors.push_back(where(file, kv.first) + "unknown key '" + key + "' (name, context, turns)");
      }
    }
  } catch (const YAML::Exception& e) {
    errors.push_back(file + ": " + e.what());
  }
  if (s.turns.empty() && errors.size() == before) errors.push_back(file + ": no turns");
  if (s.name.empty()) s.name = fs::path(file).stem().string();
  return errors.size() == before;
}

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

// Runs one script; returns the failure lines (empty = passed).
std::vector<std::string> run_script(const script& s, const dialog::router& router, const dialog::snapshot& snap) {
  std::vector<std::string> out;
  dialog::dialog_state ds;
  for (const auto& [k, v] : s.context) ds.context[k] = {v, router.config().context_ttl + 1};
  std::string state = "bot";
  std::mt19937_64 rng(7);
  for (std::size_t i = 0; i < s.turns.size(); ++i) {
    const turn& t = s.turns[i];
    std::vector<std::string> diffs;
    dialog::decision d;
    bool replied = false;
    if (state == "closed") state = "bot";  // a new message reopens with the bot
    if (state == "bot") {
      d = router.route(t.text, ds, snap, rng);
      replied = true;
      if (d.kind == dialog::decision_kind::handoff) state = "queued";
      if (d.close) state = "closed";
    }
    const expectation& e = t.expect;
    const std::string got_decision = replied ? std::string(dialog::decision_name(d.kind)) : "(silent)";
    if (!e.decision.empty() && e.decision != got_decision) {
      diffs.push_back("decision: expected " + e.decision + ", got " + got_decision);
    }
    const std::string got_intent = d.source_kind == "intent" ? d.source_id : "";
    if (!e.intent.empty() && e.intent != got_intent) {
      diffs.push_back("intent:   expected " + e.intent + ", got " +
                      (got_intent.empty() ? d.source_kind.empty() ? "nothing" : d.source_kind : got_intent));
    }
    const std::string got_article = d.source_kind == "kb" ? d.source_id : "";
    if (!e.article.empty() && e.article != got_article) {
      diffs.push_back("article:  expected " + e.article + ", got " + (got_article.empty() ? "none" : got_article));
    }
    if (!e.contains.empty() && d.text.find(e.contains) == std::string::npos) {
      diffs.push_back("contains: expected the reply to contain " + in_quotes(e.contains));
    }
    if (!e.state.empty() && e.state != state) diffs.push_back("state:    expected " + e.state + ", got " + state);
    for (const auto& [k, v] : e.slots) {
      const auto it = ds.slots.find(k);
      const std::string got = it == ds.slots.end() ? "(unset)" : it->second;
      if (got != v) diffs.push_back("slot " + k + ": expected " + v + ", got " + got);
    }
    if (!diffs.empty()) {
      out.push_back("  turn " + std::to_string(i + 1) + " (" + s.file + ":" + std::to_string(t.line) + "): " +
                    (t.payload ? "payload " : "visitor ") + in_quotes(t.text));
      for (const auto& df : diffs) out.push_back("    " + df);
      if (replied) {
        out.push_back("    reply:    " + in_quotes(d.text));
        if (!d.candidates.empty()) {
          char buf[64];
          std::snprintf(buf, sizeof buf, " %.2f", d.candidates.front().confidence);
          out.push_back("    top:      " + d.candidates.front().kind + " " + d.candidates.front().id + buf);
        }
      }
    }
  }
  return out;
}

}  // namespace

int cmd_test(const command_context& ctx) {
  std::vector<std::string> files;
  for (const auto& a : ctx.args) {
    if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "supportbot test: unknown option '%s'\n", a.c_str());
      return 2;
    }
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      for (const auto& e : fs::directory_iterator(a, ec)) {
        if (e.path().extension() == ".yaml" || e.path().extension() == ".yml") files.push_back(e.path().string());
      }
    } else {
      files.push_back(a);
    }
  }
  auto cfg = load_config({ctx.config_path, process_environment()});
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.error().message().c_str());
    return 1;
  }
  if (ctx.args.empty()) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("tests/conversations", ec)) {
      if (e.path().extension() == ".yaml" || e.path().extension() == ".yml") files.push_back(e.path().string());
    }
    if (files.empty()) {
      std::fprintf(stderr, "supportbot test: no files given and no tests/conversations/*.yaml here\n");
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  auto snap = load_snapshot(*cfg);
  if (!snap.ok()) {
    std::fprintf(stderr, "the rules do not load:\n%s\n", snap.error().message().c_str());
    return 1;
  }
  const dialog::router router(cfg->routing);
  std::size_t passed = 0, failed = 0;
  for (const auto& f : files) {
    script s;
    std::vector<std::string> errors;
    if (!parse_script(f, s, errors)) {
      ++failed;
      std::printf("ERROR %s\n", f.c_str());
      for (const auto& e : errors) std::printf("  %s\n", e.c_str());
      continue;
    }
    const auto diffs = run_script(s, router, *snap);
    if (diffs.empty()) {
      ++passed;
      std::printf("ok    %s: %s\n", f.c_str(), s.name.c_str());
    } else {
      ++failed;
      std::printf("FAIL  %s: %s\n", f.c_str(), s.name.c_str());
      for (const auto& d : diffs) std::printf("%s\n", d.c_str());
    }
  }
  std::printf("%zu passed, %zu failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace bot::app
