#include "bot/app/rules.hpp"

#include "bot/intents/loader.hpp"
#include "bot/kb/article.hpp"
#include "bot/kb/index.hpp"

namespace bot::app {

intents::rule_limits rule_limits_of(const core::config& c) {
  intents::rule_limits l;
  l.rule_file_bytes = c.limits.rule_file_bytes;
  l.pattern_bytes = c.limits.pattern_bytes;
  l.re2_max_mem_mb = c.limits.re2_max_mem_mb;
  return l;
}

rules_report load_and_check_rules(const core::config& c) {
  rules_report rep;
  auto loaded = intents::load_intents_dir(c.intents_dir, rule_limits_of(c));
  rep.files = loaded.files.size();
  for (const auto& e : loaded.errors) rep.errors.push_back(e.message());
  kb::kb_limits kl;
  kl.file_bytes = c.limits.rule_file_bytes;
  kb::kb_files kb_files = kb::load_kb_dir(c.kb_dir, kl);
  rep.kb_files = kb_files.files;
  rep.errors.insert(rep.errors.end(), kb_files.errors.begin(), kb_files.errors.end());
  if (!loaded.rules || !kb_files.errors.empty()) return rep;
  auto index = kb::kb_index::build(std::move(kb_files));
  if (!index.ok()) {
    rep.errors.push_back(c.kb_dir + ": cannot index: " + index.error().message());
    return rep;
  }
  rep.loaded = true;
  rep.intents = loaded.rules->intents().size();
  rep.patterns = loaded.rules->pattern_count();
  rep.kb_articles = index.value()->stats().articles;
  rep.kb_variants = index.value()->stats().variants;
  rep.kb_build_ms = index.value()->stats().build_ms;
  rep.snap.rules = loaded.rules;
  rep.snap.kb = index.value();
  const dialog::router router(c.routing);
  const auto ex = dialog::check_examples(router, rep.snap);
  rep.examples = ex.examples;
  rep.examples_passed = ex.passed;
  for (const auto& f : ex.failures) rep.errors.push_back(f.message);
  return rep;
}

core::result<dialog::snapshot> load_snapshot(const core::config& c) {
  rules_report rep = load_and_check_rules(c);
  if (rep.ok()) return rep.snap;
  std::string msg;
  for (const auto& e : rep.errors) msg += (msg.empty() ? "" : "\n") + e;
  return core::invalid_argument(msg);
}

}  // namespace bot::app
