// Prometheus text exposition of what app owns: store counters and histograms,
// rule reloads. The server appends its own metrics.
#pragma once

#include <string>

#include "bot/dialog/snapshot_holder.hpp"
#include "bot/store/store.hpp"

namespace bot::app {

std::string render_metrics(const store::store& db, const dialog::snapshot_holder& rules);

}  // namespace bot::app
