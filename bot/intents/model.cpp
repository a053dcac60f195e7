#include "bot/intents/model.hpp"

#include <algorithm>

namespace bot::intents {

std::string source_loc::str() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

bool condition::holds(const slot_map& slots, const context_map& ctx) const {
  for (const auto& m : missing) {
    if (slots.count(m)) return false;
  }
  for (const auto& p : present) {
    if (!slots.count(p)) return false;
  }
  for (const auto& [k, v] : context) {
    const auto it = ctx.find(k);
    if (it == ctx.end() || it->second != v) return false;
  }
  return true;
}

bool intent::has_slot(const std::string& name) const {
  return std::any_of(slots.begin(), slots.end(), [&](const slot_rule& s) { return s.name == name; });
}

std::string_view action_name(action a) noexcept {
  switch (a) {
    case action::none: return "none";
    case action::handoff: return "handoff";
    case action::close: return "close";
  }
  return "none";
}

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Calls f(name, begin, end) for every {name} in text.
template <typename F>
void for_each_placeholder(const std::string& text, F&& f) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') continue;
    std::size_t j = i + 1;
    while (j < text.size() && is_name_char(text[j])) ++j;
    if (j < text.size() && text[j] == '}' && j > i + 1) {
      f(text.substr(i + 1, j - i - 1), i, j + 1);
      i = j;
    }
  }
}

}  // namespace

std::string fill_template(const std::string& text, const slot_map& slots) {
  std::string out;
  std::size_t last = 0;
  for_each_placeholder(text, [&](const std::string& name, std::size_t b, std::size_t e) {
    const auto it = slots.find(name);
    if (it == slots.end()) return;
    out.append(text, last, b - last);
    out += it->second;
    last = e;
  });
  out.append(text, last, std::string::npos);
  return out;
}

std::vector<std::string> template_slots(const std::string& text) {
  std::vector<std::string> names;
  for_each_placeholder(text, [&](const std::string& name, std::size_t, std::size_t) { names.push_back(name); });
  return names;
}

}  // namespace bot::intents
