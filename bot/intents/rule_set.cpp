#include "bot/intents/rule_set.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <map>

#include "bot/core/text.hpp"

namespace bot::intents {
namespace {

RE2::Options base_options(std::int64_t max_mem) {
  RE2::Options o;
  o.set_case_sensitive(false);
  o.set_log_errors(false);
  o.set_encoding(RE2::Options::EncodingUTF8);
  o.set_max_mem(max_mem);
  return o;
}

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

// The literal words a pattern names, normalised: maximal runs of letters,
// digits and non-ASCII bytes written as themselves, outside character
// classes and escapes; a character a quantifier makes optional is left out
// ("orders?" names "order", "e-?mail" names "e" and "mail").
std::vector<std::string> literal_words(std::string_view regex) {
  std::vector<std::string> out;
  std::string run;
  const auto flush = [&] {
    if (!run.empty()) out.push_back(core::normalize(run));
    run.clear();
  };
  for (std::size_t i = 0; i < regex.size(); ++i) {
    const char c = regex[i];
    if (is_word_byte(static_cast<unsigned char>(c))) {
      run += c;
    } else if (c == '?' || c == '*' || c == '+' || c == '{') {
      if (!run.empty()) run.pop_back();  // the quantified character may be absent
      flush();
      if (c == '{') i = std::min(regex.find('}', i), regex.size());
    } else if (c == '\\') {
      flush();
      if (i + 1 >= regex.size()) break;
      const char e = regex[++i];
      if ((e == 'p' || e == 'P' || e == 'x') && i + 1 < regex.size() && regex[i + 1] == '{') {
        i = std::min(regex.find('}', i), regex.size());
      } else if (e == 'p' || e == 'P') {
        ++i;  // \pL
      } else if (e == 'Q') {
        i = std::min(regex.find("\\E", i), regex.size());  // quoted text: not counted
      }
    } else if (c == '[') {
      flush();
      std::size_t j = i + 1;
      if (j < regex.size() && regex[j] == '^') ++j;
      if (j < regex.size() && regex[j] == ']') ++j;
      for (; j < regex.size() && regex[j] != ']'; ++j) {
        if (regex[j] == '\\')
          ++j;
        else if (regex[j] == '[' && j + 1 < regex.size() && regex[j + 1] == ':')
          j = std::min(regex.find(":]", j), regex.size() - 1) + 1;
      }
      i = std::min(j, regex.size());
    } else if (c == '(' && i + 1 < regex.size() && regex[i + 1] == '?') {
      flush();  // (?:  (?i)  (?i:  (?P<name>
      std::size_t j = i + 2;
      while (j < regex.size() && regex[j] != ':' && regex[j] != ')' && regex[j] != '>') ++j;
      i = std::min(j, regex.size());
    } else {
      flush();
    }
  }
  flush();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

// What match() needs of one Set pattern, packed together so that a hit costs
// one or two cache lines: with 1,000 patterns the rule set is cold in the CPU
// cache after the Set's DFA has run, and chasing pointers through `intent`,
// its patterns and their words cost more than the rest of a hit's work.
// Computed once per pattern at build time.
struct hot_pattern {
  std::uint32_t intent = 0;       // index in intents_
  std::uint32_t words_begin = 0;  // this pattern's literal_words(): offset in impl::word_text
  std::uint32_t words_count = 0;
  std::uint32_t regex_size = 0;
  const char* regex = nullptr;  // the pattern's text (owned by the intent)
  double weight = 1;
  bool anchored_start = false;  // begins with ^: the match starts the message
  bool anchored_end = false;    // ends with an unescaped $: it ends the message
  bool intent_has_excludes = false;
  bool intent_requires_context = false;
};

bool anchored_start(std::string_view regex) {
  return regex.substr(0, 1) == "^" || regex.substr(0, 2) == "\\A";
}

bool anchored_end(std::string_view regex) {
  if (regex.size() >= 2 && regex.substr(regex.size() - 2) == "\\z") return true;
  if (regex.empty() || regex.back() != '$') return false;
  std::size_t backslashes = 0;
  for (std::size_t i = regex.size() - 1; i > 0 && regex[i - 1] == '\\'; --i) ++backslashes;
  return backslashes % 2 == 0;
}

// The part of normalised `text` a matched pattern explains: from the first
// to the last message word the pattern names (from the start or to the end
// when it is anchored there). A message word is named when it contains one
// of the pattern's words of three or more bytes ("cancellation" by
// "cancel\w*", "emails" by "e-?mails?") or equals a shorter one ("is" does
// not name "this"). Empty when the pattern names none of the message's words;
// the caller then measures the match with the pattern's RE2.
std::string_view measure_span(const hot_pattern& r, const char* words, std::string_view text) {
  const auto word_at = [&](std::size_t i) {
    return i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]));
  };
  // Occurrences of a short word count only as a whole word.
  const auto counts = [&](std::string_view w, std::size_t at) {
    return w.size() >= 3 || ((at == 0 || !word_at(at - 1)) && !word_at(at + w.size()));
  };
  std::size_t first = r.anchored_start ? 0 : text.size();
  std::size_t last = r.anchored_end ? text.size() : 0;
  for (std::uint32_t k = 0; k < r.words_count; ++k) {
    // Each word is stored as a 2-byte length, then its bytes.
    const std::size_t size = static_cast<unsigned char>(words[0]) |
                             (static_cast<std::size_t>(static_cast<unsigned char>(words[1])) << 8);
    const std::string_view w(words + 2, size);
    words += 2 + size;
    std::size_t at = text.find(w);
    while (at != std::string_view::npos && at < first && !counts(w, at)) at = text.find(w, at + 1);
    if (at == std::string_view::npos) continue;  // so no later occurrence either
    if (at < first) {
      while (at > 0 && word_at(at - 1)) --at;
      first = at;
    }
    at = text.rfind(w);
    while (at != std::string_view::npos && !counts(w, at))
      at = at == 0 ? std::string_view::npos : text.rfind(w, at - 1);
    if (at == std::string_view::npos) continue;
    std::size_t end = at + w.size();
    while (word_at(end)) ++end;
    last = std::max(last, end);
  }
  if (first >= last) return {};
  return text.substr(first, last - first);
}

// The confidence of one matched pattern: its weight, reduced when the match
// covers little of the message (docs/routing.md).
double pattern_confidence(double weight, std::size_t matched, std::size_t total) {
  const double coverage = total == 0 ? 1.0 : std::min(1.0, 2.0 * double(matched) / double(total));
  return weight * (0.75 + 0.25 * coverage);
}

}  // namespace

struct rule_set::impl {
  explicit impl(const RE2::Options& set_opts)
      : set(set_opts, RE2::UNANCHORED), excludes(set_opts, RE2::UNANCHORED) {}
  RE2::Set set;
  RE2::Set excludes;
  bool has_excludes = false;
  std::vector<std::unique_ptr<RE2>> patterns;  // parallel to refs_
  std::vector<hot_pattern> hot;                // parallel to refs_
  std::string word_text;  // every pattern's literal words, each a 2-byte length and its bytes
  // Slot patterns, one RE2 per distinct regex: intents that share a slot
  // (an order number) share its compiled form, which stays in the CPU cache.
  std::vector<std::unique_ptr<RE2>> slot_res;
  std::vector<std::vector<const RE2*>> slots;  // [intent][slot]; null if invalid
  std::vector<std::vector<int>> slot_groups;   // capture index of the named group
  std::map<std::string, std::size_t, std::less<>> by_id;
};

rule_set::~rule_set() = default;

std::variant<std::shared_ptr<const rule_set>, std::vector<load_error>> rule_set::build(
    std::vector<intent> intents, const rule_limits& limits) {
  std::vector<load_error> errors;
  const std::int64_t set_mem = std::int64_t(limits.re2_max_mem_mb) << 20;
  std::shared_ptr<rule_set> rs(new rule_set());
  rs->intents_ = std::move(intents);
  RE2::Options set_opts = base_options(set_mem);
  set_opts.set_never_capture(true);  // the Set reports pattern indices only
  rs->impl_ = std::make_unique<impl>(set_opts);
  auto& im = *rs->impl_;
  const RE2::Options one = base_options(8 << 20);

  // Patterns and excludes only need the whole match: compiled without
  // capture groups their programs, and the DFAs built from them, are smaller
  // (about 3x faster on messages that hit). Slots keep their groups.
  RE2::Options whole_only = one;
  whole_only.set_never_capture(true);
  const auto compile = [&](const std::string& regex, const source_loc& loc, const std::string& what,
                           const RE2::Options& opts) -> std::unique_ptr<RE2> {
    if (regex.size() > static_cast<std::size_t>(limits.pattern_bytes)) {
      errors.push_back({loc, what + " is " + std::to_string(regex.size()) +
                                 " bytes, over the limit of " +
                                 std::to_string(limits.pattern_bytes)});
      return nullptr;
    }
    auto re = std::make_unique<RE2>(regex, opts);
    if (!re->ok()) {
      errors.push_back({loc, what + " is not valid RE2: " + re->error()});
      return nullptr;
    }
    return re;
  };

  std::map<std::string, std::pair<const RE2*, int>, std::less<>> slot_by_regex;  // -> RE2, group
  im.slots.resize(rs->intents_.size());
  im.slot_groups.resize(rs->intents_.size());
  for (std::size_t i = 0; i < rs->intents_.size(); ++i) {
    const intent& in = rs->intents_[i];
    im.by_id.emplace(in.id, i);
    for (std::size_t p = 0; p < in.patterns.size(); ++p) {
      auto re = compile(in.patterns[p].regex, in.patterns[p].loc, "pattern", whole_only);
      if (!re) continue;
      std::string err;
      if (im.set.Add(in.patterns[p].regex, &err) < 0) {
        errors.push_back({in.patterns[p].loc, "pattern is not valid RE2: " + err});
        continue;
      }
      rs->refs_.push_back({i, p});
      im.patterns.push_back(std::move(re));
      const std::string& regex = in.patterns[p].regex;
      hot_pattern h;
      h.intent = static_cast<std::uint32_t>(i);
      h.regex = regex.data();
      h.regex_size = static_cast<std::uint32_t>(regex.size());
      h.weight = in.patterns[p].weight;
      h.anchored_start = anchored_start(regex);
      h.anchored_end = anchored_end(regex);
      h.intent_has_excludes = !in.excludes.empty();
      h.intent_requires_context = !in.requires_context.empty();
      const auto lw = literal_words(regex);
      h.words_begin = static_cast<std::uint32_t>(im.word_text.size());
      for (const auto& w : lw) {
        if (w.size() > 0xFFFF) continue;  // cannot be: a pattern is at most limits.pattern_bytes
        im.word_text += static_cast<char>(w.size() & 0xFF);
        im.word_text += static_cast<char>(w.size() >> 8);
        im.word_text += w;
        ++h.words_count;
      }
      im.hot.push_back(h);
    }
    for (const auto& ex : in.excludes) {
      if (!compile(ex.regex, ex.loc, "exclude pattern", whole_only)) continue;
      std::string err;
      if (im.excludes.Add(ex.regex, &err) < 0) {
        errors.push_back({ex.loc, "exclude pattern is not valid RE2: " + err});
        continue;
      }
      rs->exclude_refs_.push_back(i);
      im.has_excludes = true;
    }
    for (const auto& slot : in.slots) {
      const auto known = slot_by_regex.find(slot.regex);
      const RE2* shared = known == slot_by_regex.end() ? nullptr : known->second.first;
      std::unique_ptr<RE2> re;
      if (!shared) re = compile(slot.regex, slot.loc, "slot pattern", one);
      const RE2* compiled = shared ? shared : re.get();
      int group = -1;
      if (compiled) {
        const auto& names = compiled->NamedCapturingGroups();
        const auto it = names.find(slot.name);
        if (it == names.end()) {
          errors.push_back(
              {slot.loc, "slot pattern needs a named group (?P<" + slot.name + ">...)"});
          compiled = nullptr;
        } else {
          group = it->second;
        }
      }
      if (re) {
        slot_by_regex.emplace(slot.regex, std::make_pair(re.get(), group));
        im.slot_res.push_back(std::move(re));
      }
      im.slots[i].push_back(compiled);
      im.slot_groups[i].push_back(group);
    }
  }
  if (errors.empty()) {
    if (!im.set.Compile()) {
      errors.push_back({{"intents", 0, 0},
                        "the patterns do not fit in limits.re2_max_mem_mb (" +
                            std::to_string(limits.re2_max_mem_mb) + " MiB)"});
    }
    if (im.has_excludes && !im.excludes.Compile()) {
      errors.push_back({{"intents", 0, 0},
                        "the exclude patterns do not fit in limits.re2_max_mem_mb (" +
                            std::to_string(limits.re2_max_mem_mb) + " MiB)"});
    }
  }
  if (!errors.empty()) return errors;
  return std::shared_ptr<const rule_set>(std::move(rs));
}

const intent* rule_set::find(std::string_view id) const {
  const auto it = impl_->by_id.find(id);
  return it == impl_->by_id.end() ? nullptr : &intents_[it->second];
}

namespace {

// The named group `group` of `re` in `text`, if it matches and is not empty.
std::optional<std::string> slot_value(const RE2& re, int group, std::string_view text) {
  // Slot patterns have a handful of groups: no allocation for the common case.
  constexpr int k_inline = 8;
  re2::StringPiece inline_sub[k_inline];
  std::vector<re2::StringPiece> heap_sub;
  re2::StringPiece* sub = inline_sub;
  if (group + 1 > k_inline) {
    heap_sub.resize(static_cast<std::size_t>(group) + 1);
    sub = heap_sub.data();
  }
  if (re.Match(text, 0, text.size(), RE2::UNANCHORED, sub, group + 1) &&
      sub[group].data() != nullptr && !sub[group].empty()) {
    return std::string(sub[group].data(), sub[group].size());
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> rule_set::extract_slot(const intent& rule, const std::string& name,
                                                  std::string_view original) const {
  const std::size_t i = static_cast<std::size_t>(&rule - intents_.data());
  if (i >= intents_.size()) return std::nullopt;
  for (std::size_t s = 0; s < rule.slots.size(); ++s) {
    if (rule.slots[s].name != name) continue;
    if (auto v = slot_value(*impl_->slots[i][s], impl_->slot_groups[i][s], original)) return v;
  }
  return std::nullopt;
}

core::result<std::vector<intent_match>> rule_set::match(std::string_view original,
                                                        const context_map& context) const {
  const auto& im = *impl_;
  const std::string text = core::normalize(original);
  // Reused by every match on this thread: Set::Match clears it and keeps its
  // capacity.
  thread_local std::vector<int> hits;
  RE2::Set::ErrorInfo info{};
  if (!im.set.Match(text, &hits, &info)) {
    if (info.kind == RE2::Set::kNoError) return std::vector<intent_match>{};
    return core::status(core::errc::unavailable,
                        info.kind == RE2::Set::kOutOfMemory
                            ? "pattern matching ran out of memory (raise limits.re2_max_mem_mb)"
                            : "pattern matching failed");
  }
  // Set indices follow refs_, which lists intents in order and each
  // intent's patterns together: sorted hits group by intent.
  std::sort(hits.begin(), hits.end());
  const auto hot = [&](int h) -> const hot_pattern& { return im.hot[static_cast<std::size_t>(h)]; };

  // Excludes only remove candidates: the second pass runs only when a
  // candidate has any. Intent indices, sorted; usually empty.
  std::vector<std::size_t> excluded;
  if (im.has_excludes &&
      std::any_of(hits.begin(), hits.end(), [&](int h) { return hot(h).intent_has_excludes; })) {
    std::vector<int> ex;
    RE2::Set::ErrorInfo exinfo{};
    if (!im.excludes.Match(text, &ex, &exinfo) && exinfo.kind != RE2::Set::kNoError) {
      return core::status(core::errc::unavailable, "exclude matching ran out of memory");
    }
    for (int e : ex) excluded.push_back(exclude_refs_[static_cast<std::size_t>(e)]);
    std::sort(excluded.begin(), excluded.end());
  }

  std::vector<intent_match> out;
  out.reserve(hits.size());
  std::size_t current = intents_.size();  // the intent of the previous hit
  bool skip_current = false;
  for (int h : hits) {
    const hot_pattern& p = hot(h);
    if (p.intent != current) {
      current = p.intent;
      skip_current =
          std::binary_search(excluded.begin(), excluded.end(), current) ||
          (p.intent_requires_context &&
           !std::all_of(intents_[current].requires_context.begin(),
                        intents_[current].requires_context.end(),
                        [&](const std::string& key) { return context.count(key) != 0; }));
      if (!skip_current) {
        out.emplace_back();
        out.back().rule = &intents_[current];
      }
    }
    if (skip_current) continue;
    intent_match& m = out.back();
    // A pattern scores at most its weight: one that cannot beat the
    // intent's best so far need not be measured.
    if (p.weight <= m.confidence) continue;
    // The span is measured from the words the pattern names; only a
    // pattern that names none of the message's words runs its own RE2 (with
    // 1,000 patterns, each RE2's DFA is cold in the CPU cache: ~1 us).
    std::string_view span = measure_span(p, im.word_text.data() + p.words_begin, text);
    if (span.empty()) {
      re2::StringPiece whole;
      im.patterns[static_cast<std::size_t>(h)]->Match(text, 0, text.size(), RE2::UNANCHORED, &whole,
                                                      1);
      span = std::string_view(whole.data(), whole.size());
    }
    const double conf = pattern_confidence(p.weight, span.size(), text.size());
    if (conf > m.confidence) {
      m.confidence = conf;
      m.pattern = std::string_view(p.regex, p.regex_size);
      m.matched_text.assign(span.data(), span.size());
    }
  }
  for (intent_match& m : out) {
    const std::size_t i = static_cast<std::size_t>(m.rule - intents_.data());
    if (im.slots[i].empty()) continue;
    const auto& slots = m.rule->slots;
    for (std::size_t s = 0; s < slots.size(); ++s) {
      // The first slot of a name that matches wins, as in extract_slot().
      if (m.slots.count(slots[s].name)) continue;
      if (auto v = slot_value(*im.slots[i][s], im.slot_groups[i][s], original)) {
        m.slots.emplace(slots[s].name, std::move(*v));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const intent_match& a, const intent_match& b) {
    if (a.rule->priority != b.rule->priority) return a.rule->priority > b.rule->priority;
    if (a.confidence != b.confidence) return a.confidence > b.confidence;
    return a.rule->order < b.rule->order;
  });
  return out;
}

}  // namespace bot::intents
