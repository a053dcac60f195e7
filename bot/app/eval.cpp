// `supportbot eval FILE.csv`: answer quality on labelled messages, through
// the server's own router (dialog::router::route with a fresh conversation
// per row).
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "bot/app/commands.hpp"
#include "bot/app/config_file.hpp"
#include "bot/app/rules.hpp"
#include "bot/core/csv.hpp"
#include "bot/dialog/router.hpp"

namespace bot::app {
namespace {

namespace json = boost::json;
constexpr std::string_view k_oos = "out_of_scope";

struct label_stats {
  std::size_t count = 0, right = 0;
  std::map<std::string, std::size_t> wrong;  // predicted -> count
};

}  // namespace

int cmd_eval(const command_context& ctx) {
  std::string file;
  bool as_json = false;
  std::string kb_dir, intents_dir, details_file;
  for (std::size_t i = 0; i < ctx.args.size(); ++i) {
    const std::string& a = ctx.args[i];
    if (a == "--json") {
      as_json = true;
    } else if ((a == "--kb" || a == "--intents" || a == "--details") && i + 1 < ctx.args.size()) {
      (a == "--kb" ? kb_dir : a == "--intents" ? intents_dir : details_file) = ctx.args[++i];
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "supportbot eval: unknown option '%s'\n", a.c_str());
      return 2;
    } else if (file.empty()) {
      file = a;
    } else {
      std::fprintf(stderr, "supportbot eval: one CSV file only\n");
      return 2;
    }
  }
  if (file.empty()) {
    std::fprintf(stderr, "usage: supportbot eval FILE.csv [--kb DIR] [--intents DIR] [--json]\n");
    return 2;
  }
  auto cfg = load_config({ctx.config_path, process_environment()});
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.error().message().c_str());
    return 1;
  }
  if (!kb_dir.empty()) cfg->kb_dir = kb_dir;
  if (!intents_dir.empty()) cfg->intents_dir = intents_dir;

  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", file.c_str());
    return 1;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  const core::csv_table t = core::parse_csv(buf.str());
  if (!t.error.empty()) {
    std::fprintf(stderr, "%s:%s\n", file.c_str(), t.error.substr(5).c_str());
    return 1;
  }
  if (t.rows.empty() || t.rows[0].fields.size() != 2 || t.rows[0].fields[0] != "text" ||
      t.rows[0].fields[1] != "expected") {
    std::fprintf(stderr, "%s:1: the header must be 'text,expected'\n", file.c_str());
    return 1;
  }
  for (std::size_t i = 1; i < t.rows.size(); ++i) {
    if (t.rows[i].fields.size() != 2) {
      std::fprintf(stderr, "%s:%d: expected 2 fields (text,expected)\n", file.c_str(), t.rows[i].line);
      return 1;
    }
  }

  const auto t_load = std::chrono::steady_clock::now();
  auto snap = load_snapshot(*cfg);
  if (!snap.ok()) {
    std::fprintf(stderr, "the rules do not load:\n%s\n", snap.error().message().c_str());
    return 1;
  }
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();
  const dialog::router router(cfg->routing);
  std::mt19937_64 rng(1);

  std::ofstream details;
  if (!details_file.empty()) {
    details.open(details_file, std::ios::binary | std::ios::trunc);
    if (!details) {
      std::fprintf(stderr, "%s: cannot write\n", details_file.c_str());
      return 1;
    }
    details << "text,expected,predicted,decision,confidence,top,top_confidence,second,second_confidence,"
               "kb_top,kb_probability,kb_similarity,kb_calibrated,kb_coverage,kb_second_probability\n";
  }
  const auto csv_field = [](const std::string& v) {
    std::string out = "\"";
    for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  std::size_t top1_right = 0;
  std::size_t n = 0, right = 0, in_scope = 0, in_scope_right = 0;
  std::size_t oos_expected = 0, oos_predicted = 0, oos_both = 0;
  std::map<std::string, std::size_t> decisions;
  std::map<std::string, label_stats> per_label;
  std::vector<double> latency_us;
  for (std::size_t i = 1; i < t.rows.size(); ++i) {
    const std::string& text = t.rows[i].fields[0];
    const std::string& expected = t.rows[i].fields[1];
    dialog::dialog_state state;
    const auto t0 = std::chrono::steady_clock::now();
    const dialog::decision d = router.route(text, state, *snap, rng);
    latency_us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    ++decisions[std::string(dialog::decision_name(d.kind))];
    // What the bot answered with: an intent or article, or nothing.
    const bool answered = (d.kind == dialog::decision_kind::answer ||
                           (d.kind == dialog::decision_kind::handoff && d.source_kind == "intent")) &&
                          !d.source_id.empty();
    const std::string predicted = answered ? d.source_id : std::string(k_oos);
    const bool ok = predicted == expected;
    const std::string top = d.candidates.empty() ? std::string() : d.candidates[0].id;
    if (expected != k_oos && top == expected) ++top1_right;
    if (details) {
      details << csv_field(text) << ',' << expected << ',' << predicted << ',' << dialog::decision_name(d.kind) << ','
              << d.confidence << ',' << top << ',' << (d.candidates.empty() ? 0.0 : d.candidates[0].confidence) << ','
              << (d.candidates.size() > 1 ? d.candidates[1].id : "") << ','
              << (d.candidates.size() > 1 ? d.candidates[1].confidence : 0.0);
      // What the knowledge base alone ranked first, with the two parts of its confidence.
      const auto kb = snap->kb ? snap->kb->search(text, 2) : std::vector<kb::kb_match>{};
      if (kb.empty()) {
        details << ",,0,0,0,0,0\n";
      } else {
        details << ',' << kb[0].art->id << ',' << kb[0].probability << ',' << kb[0].similarity << ','
                << kb[0].calibrated << ',' << kb[0].coverage << ',' << (kb.size() > 1 ? kb[1].probability : 0.0)
                << '\n';
      }
    }
    ++n;
    right += ok;
    if (expected == k_oos) {
      ++oos_expected;
      oos_both += ok;
    } else {
      ++in_scope;
      in_scope_right += ok;
    }
    oos_predicted += predicted == k_oos;
    auto& ls = per_label[expected];
    ++ls.count;
    if (ok) {
      ++ls.right;
    } else {
      ++ls.wrong[predicted];
    }
  }
  const auto ratio = [](std::size_t a, std::size_t b) { return b == 0 ? 0.0 : double(a) / double(b); };
  std::sort(latency_us.begin(), latency_us.end());
  const auto pct = [&](double p) {
    if (latency_us.empty()) return 0.0;
    return latency_us[std::min(latency_us.size() - 1, static_cast<std::size_t>(p * double(latency_us.size())))];
  };
  double mean = 0;
  for (double v : latency_us) mean += v;
  mean = latency_us.empty() ? 0 : mean / double(latency_us.size());

  // The labels the bot gets wrong most, for the confusion summary.
  std::vector<std::pair<std::string, const label_stats*>> worst;
  for (const auto& [label, ls] : per_label) worst.emplace_back(label, &ls);
  std::sort(worst.begin(), worst.end(), [](const auto& a, const auto& b) {
    const std::size_t wa = a.second->count - a.second->right, wb = b.second->count - b.second->right;
    return wa != wb ? wa > wb : a.first < b.first;
  });

  if (as_json) {
    json::object o;
    o["count"] = n;
    o["accuracy"] = ratio(right, n);
    o["in_scope_count"] = in_scope;
    o["in_scope_accuracy"] = ratio(in_scope_right, in_scope);
    o["in_scope_top1_accuracy"] = ratio(top1_right, in_scope);
    o["out_of_scope_count"] = oos_expected;
    o["out_of_scope_precision"] = ratio(oos_both, oos_predicted);
    o["out_of_scope_recall"] = ratio(oos_both, oos_expected);
    json::object dec;
    for (const auto& [k, v] : decisions) dec[k] = v;
    o["decisions"] = std::move(dec);
    o["latency_us"] = json::object{{"mean", mean}, {"p50", pct(0.5)}, {"p95", pct(0.95)}, {"p99", pct(0.99)},
                                   {"max", latency_us.empty() ? 0.0 : latency_us.back()}};
    o["load_ms"] = load_ms;
    json::object labels;
    for (const auto& [label, ls] : per_label) {
      json::object l;
      l["count"] = ls.count;
      l["right"] = ls.right;
      json::object wrong;
      for (const auto& [p, c] : ls.wrong) wrong[p] = c;
      l["predicted_instead"] = std::move(wrong);
      labels[label] = std::move(l);
    }
    o["labels"] = std::move(labels);
    std::printf("%s\n", json::serialize(o).c_str());
    return 0;
  }
  std::printf("messages:               %zu (%zu in scope, %zu out of scope)\n", n, in_scope, oos_expected);
  std::printf("accuracy:               %.2f%%\n", 100 * ratio(right, n));
  std::printf("in-scope accuracy:      %.2f%%\n", 100 * ratio(in_scope_right, in_scope));
  std::printf("in-scope top-1 ranking:  %.2f%% (the right answer ranked first, whatever the decision)\n",
              100 * ratio(top1_right, in_scope));
  std::printf("out-of-scope precision: %.2f%%\n", 100 * ratio(oos_both, oos_predicted));
  std::printf("out-of-scope recall:    %.2f%%\n", 100 * ratio(oos_both, oos_expected));
  std::printf("decisions:             ");
  for (const auto& [k, v] : decisions) std::printf(" %s %zu", k.c_str(), v);
  std::printf("\nlatency per message:    mean %.0f us, p50 %.0f us, p95 %.0f us, p99 %.0f us, max %.0f us\n", mean,
              pct(0.5), pct(0.95), pct(0.99), latency_us.empty() ? 0.0 : latency_us.back());
  std::printf("rules and KB loaded in: %.0f ms\n", load_ms);
  std::printf("most confused labels (expected: right/count, then what the bot said instead):\n");
  for (std::size_t i = 0; i < worst.size() && i < 15; ++i) {
    const auto& [label, ls] = worst[i];
    if (ls->right == ls->count) break;
    std::printf("  %-28s %zu/%zu ", label.c_str(), ls->right, ls->count);
    std::vector<std::pair<std::size_t, std::string>> w;
    for (const auto& [p, c] : ls->wrong) w.emplace_back(c, p);
    std::sort(w.rbegin(), w.rend());
    for (std::size_t j = 0; j < w.size() && j < 3; ++j) std::printf(" %s×%zu", w[j].second.c_str(), w[j].first);
    std::printf("\n");
  }
  return 0;
}

}  // namespace bot::app
