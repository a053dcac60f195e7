#include "bot/app/metrics.hpp"

#include <cstdio>

namespace bot::app {
namespace {

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

template <typename Bounds, typename Counts>
void histogram(std::string& out, const char* name, const char* help, const Bounds& bounds, const Counts& counts,
               double sum) {
  header(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += counts[i];
    out += std::string(name) + "_bucket{le=\"" + num(bounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts[bounds.size()];
  out += std::string(name) + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += std::string(name) + "_sum " + num(sum) + "\n";
  out += std::string(name) + "_count " + std::to_string(cumulative) + "\n";
}

}  // namespace

std::string render_metrics(const store::store& db, const dialog::snapshot_holder& rules) {
  std::string out;
  const store::store_stats s = db.stats();
  header(out, "supportbot_store_writes_total", "counter", "Store writes completed, by result.");
  out += "supportbot_store_writes_total{result=\"ok\"} " + std::to_string(s.writes_ok) + "\n";
  out += "supportbot_store_writes_total{result=\"failed\"} " + std::to_string(s.writes_failed) + "\n";
  header(out, "supportbot_store_batches_total", "counter", "Transactions committed by the writer.");
  out += "supportbot_store_batches_total " + std::to_string(s.batches) + "\n";
  header(out, "supportbot_store_queue_depth", "gauge", "Writes waiting for the writer.");
  out += "supportbot_store_queue_depth " + std::to_string(s.queue_depth) + "\n";
  histogram(out, "supportbot_store_batch_size", "Writes per committed transaction.", store::store_stats::batch_bounds,
            s.batch_size_buckets, s.batch_size_sum);
  histogram(out, "supportbot_store_commit_seconds", "Time to run and commit one batch.",
            store::store_stats::commit_bounds_s, s.commit_seconds_buckets, s.commit_seconds_sum);
  header(out, "supportbot_rules_reloads_total", "counter", "Rule snapshots loaded, the first included.");
  out += "supportbot_rules_reloads_total " + std::to_string(rules.reloads()) + "\n";
  header(out, "supportbot_rules_reload_failures_total", "counter", "Reloads refused because the edit was broken.");
  out += "supportbot_rules_reload_failures_total " + std::to_string(rules.failures()) + "\n";
  return out;
}

}  // namespace bot::app
