#include "bot/dialog/router.hpp"

#include <algorithm>

#include "bot/core/text.hpp"

namespace bot::dialog {

using intents::intent;

std::string_view decision_name(decision_kind k) noexcept {
  switch (k) {
    case decision_kind::answer: return "answer";
    case decision_kind::clarify: return "clarify";
    case decision_kind::fallback: return "fallback";
    case decision_kind::handoff: return "handoff";
  }
  return "fallback";
}

intents::context_map dialog_state::context_values() const {
  intents::context_map out;
  for (const auto& [k, v] : context) out[k] = v.value;
  return out;
}

namespace {

constexpr std::string_view k_fallback_text =
    "Sorry, I didn't get that. Could you rephrase it, or ask to talk to a person?";
constexpr std::string_view k_handoff_text =
    "I'm not able to help with that myself. Let me get you a person from our team.";
constexpr std::string_view k_clarify_text = "I'm not quite sure what you mean. Did you mean one of these?";
constexpr std::string_view k_empty_text = "Please type your question and I'll do my best to help.";

// The label a clarify quick reply shows for a candidate.
std::string label_of(const candidate& c) { return c.title.empty() ? c.id : c.title; }

// Context entries live for context_ttl turns after the turn that set them.
void age_context(dialog_state& s) {
  for (auto it = s.context.begin(); it != s.context.end();) {
    if (--it->second.turns_left < 0) {
      it = s.context.erase(it);
    } else {
      ++it;
    }
  }
}

// The runner-up that can make the top candidate (`cs.front()`) ambiguous.
// Under an intent only an intent of the same priority counts: a higher
// priority settles an overlap by design, and a rule staff wrote outranks the
// knowledge base.
const candidate* runner_up(const std::vector<candidate>& cs) {
  if (cs.empty()) return nullptr;
  const candidate& top = cs.front();
  for (std::size_t i = 1; i < cs.size(); ++i) {
    const candidate& c = cs[i];
    if (top.kind == "kb" || (c.kind == "intent" && c.priority == top.priority)) return &c;
  }
  return nullptr;
}

}  // namespace

decision router::answer_intent(const intent& in, const intents::slot_map& found, double confidence,
                               dialog_state& state, std::mt19937_64& rng) const {
  decision d;
  d.kind = in.act == intents::action::handoff ? decision_kind::handoff : decision_kind::answer;
  d.source_kind = "intent";
  d.source_id = in.id;
  d.confidence = confidence;
  for (const auto& [k, v] : found) state.slots[k] = v;
  for (const auto& [k, v] : in.sets_context) state.context[k] = {v, cfg_.context_ttl};
  state.expect_intent.clear();
  state.expect_slot.clear();
  const auto ctx = state.context_values();
  // Slots count when this intent declares them: another intent's slot of the
  // same name is the same fact (an order number is an order number).
  intents::slot_map known;
  for (const auto& s : in.slots) {
    if (auto it = state.slots.find(s.name); it != state.slots.end()) known.insert(*it);
  }
  for (const auto& r : in.responses) {
    if (!r.when.holds(known, ctx)) continue;
    std::uniform_int_distribution<std::size_t> pick(0, r.texts.size() - 1);
    d.text = intents::fill_template(r.texts[pick(rng)], known);
    if (!r.expect.empty()) {
      state.expect_intent = in.id;
      state.expect_slot = r.expect;
    }
    break;
  }
  if (d.text.empty()) d.text = std::string(k_fallback_text);  // no `when` held
  d.quick_replies = in.quick_replies;
  d.close = in.act == intents::action::close;
  if (d.kind == decision_kind::handoff) {
    d.handoff_team = in.handoff_team.empty() ? std::string(k_default_team) : in.handoff_team;
    d.handoff_reason = "intent:" + in.id;
  }
  if (d.kind == decision_kind::answer) state.fallbacks_in_row = 0;
  return d;
}

decision router::answer_article(const kb::article& a, double confidence, dialog_state& state) const {
  decision d;
  d.kind = decision_kind::answer;
  d.source_kind = "kb";
  d.source_id = a.id;
  d.source_title = a.title;
  d.confidence = confidence;
  d.text = a.body;
  state.expect_intent.clear();
  state.expect_slot.clear();
  state.fallbacks_in_row = 0;
  return d;
}

decision router::route(std::string_view text, dialog_state& state, const snapshot& snap,
                       std::mt19937_64& rng, route_detail detail) const {
  ++state.turns;
  age_context(state);
  decision d;
  const std::string clean = core::sanitize_utf8(text);
  if (core::is_blank(clean) || !snap.rules) {
    d.kind = decision_kind::fallback;
    d.source_kind = "fallback";
    d.text = std::string(k_empty_text);
    return d;
  }
  const auto& rules = *snap.rules;

  // A quick reply naming an intent or an article chooses it directly.
  if (clean.rfind("intent:", 0) == 0) {
    if (const intent* in = rules.find(std::string_view(clean).substr(7))) {
      decision a = answer_intent(*in, {}, 1.0, state, rng);
      a.candidates.push_back({"intent", in->id, in->description, 1.0, in->priority, "quick reply", "", {}});
      return a;
    }
  }
  if (clean.rfind("kb:", 0) == 0 && snap.kb) {
    if (const kb::article* art = snap.kb->find(std::string_view(clean).substr(3))) {
      decision a = answer_article(*art, 1.0, state);
      a.candidates.push_back({"kb", art->id, art->title, 1.0, 0, "quick reply", "", {}});
      return a;
    }
  }

  // After "what's your order number?", a bare "AB-123456" fills the slot;
  // "cancel order AB-123456" or "a person, about AB-123456" is another
  // request and is routed as one.
  if (!state.expect_slot.empty()) {
    const intent* in = rules.find(state.expect_intent);
    const auto other_request = [&] {
      const auto m = rules.match(clean, state.context_values());
      return m.ok() && std::any_of(m->begin(), m->end(), [&](const intents::intent_match& c) {
               return c.rule != in && c.confidence >= cfg_.clarify_threshold;
             });
    };
    if (in) {
      if (auto v = rules.extract_slot(*in, state.expect_slot, clean); v && !other_request()) {
        intents::slot_map found{{state.expect_slot, *v}};
        decision a = answer_intent(*in, found, 1.0, state, rng);
        a.candidates.push_back(
            {"intent", in->id, in->description, 1.0, in->priority, "expected slot " + found.begin()->first, *v, found});
        return a;
      }
    }
    state.expect_intent.clear();
    state.expect_slot.clear();
  }

  auto matched = rules.match(clean, state.context_values());
  if (!matched.ok()) {
    d.kind = decision_kind::fallback;
    d.source_kind = "fallback";
    d.text = std::string(k_fallback_text);
    d.error = matched.error();
    return d;
  }
  for (const auto& m : *matched) {
    d.candidates.push_back({"intent", m.rule->id, m.rule->description, m.confidence, m.rule->priority,
                            std::string(m.pattern), m.matched_text, m.slots});
  }
  // An intent that answers (confident, and clear of the intents that could
  // make it ambiguous, or a request for a person) settles the decision
  // whatever the knowledge base holds: the merge below puts it first and no
  // article can be its runner-up. Then only a caller that wants every
  // candidate (ask, eval) pays for the search.
  bool settled = false;
  if (detail == route_detail::decision_only && !d.candidates.empty() &&
      d.candidates.front().confidence >= cfg_.answer_threshold) {
    const candidate& top = d.candidates.front();
    const candidate* runner = runner_up(d.candidates);
    const intent* in = rules.find(top.id);
    settled = !runner || top.confidence - runner->confidence >= cfg_.ambiguity_margin ||
              (in && in->act == intents::action::handoff);
  }
  if (snap.kb && !settled) {
    std::vector<candidate> articles;
    for (const auto& m : snap.kb->search(clean, 3)) {
      std::string why = "terms:";
      for (const auto& t : m.terms) why += " " + t;
      if (m.terms.empty()) why += " (none; character n-grams)";
      for (const auto& c : m.corrected) why += ", corrected " + c;
      articles.push_back({"kb", m.art->id, m.art->title, m.confidence, 0, why, m.nearest, {}});
    }
    // Merge, keeping the intents' own order (priority first): a rule staff
    // wrote that matches with answer confidence outranks the knowledge base,
    // which answers what no rule covers; otherwise an article goes before an
    // intent it beats on confidence.
    std::vector<candidate> merged;
    std::size_t i = 0, k = 0;
    while (i < d.candidates.size() || k < articles.size()) {
      const bool take_intent =
          k == articles.size() ||
          (i < d.candidates.size() && (d.candidates[i].confidence >= cfg_.answer_threshold ||
                                       d.candidates[i].confidence >= articles[k].confidence));
      merged.push_back(std::move(take_intent ? d.candidates[i++] : articles[k++]));
    }
    d.candidates = std::move(merged);
  }

  const candidate* top = d.candidates.empty() ? nullptr : &d.candidates.front();
  const candidate* runner = runner_up(d.candidates);
  if (top && top->confidence >= cfg_.answer_threshold) {
    const bool clear = !runner || top->confidence - runner->confidence >= cfg_.ambiguity_margin;
    if (top->kind == "kb") {
      if (clear) {
        decision a = answer_article(*snap.kb->find(top->id), top->confidence, state);
        a.candidates = std::move(d.candidates);
        return a;
      }
    } else {
      const intent* in = rules.find(top->id);
      // Asking for a person is honoured even when another intent also matched.
      if (clear || in->act == intents::action::handoff) {
        decision a = answer_intent(*in, top->slots, top->confidence, state, rng);
        a.candidates = std::move(d.candidates);
        return a;
      }
    }
  }
  if (top && top->confidence >= cfg_.clarify_threshold) {
    d.kind = decision_kind::clarify;
    d.source_kind = "clarify";
    d.confidence = top->confidence;
    for (const auto& c : d.candidates) {
      if (c.confidence < cfg_.clarify_threshold || d.quick_replies.size() == 3) break;
      d.quick_replies.push_back(label_of(c));
      d.quick_payloads.push_back(c.kind + ":" + c.id);
    }
    d.text = std::string(k_clarify_text);
    return d;
  }

  ++state.fallbacks_in_row;
  d.confidence = top ? top->confidence : 0;
  if (cfg_.fallbacks_before_handoff > 0 && state.fallbacks_in_row >= cfg_.fallbacks_before_handoff) {
    d.kind = decision_kind::handoff;
    d.source_kind = "fallback";
    d.text = std::string(k_handoff_text);
    d.handoff_team = std::string(k_default_team);
    d.handoff_reason = "fallbacks";
    state.fallbacks_in_row = 0;
    return d;
  }
  d.kind = decision_kind::fallback;
  d.source_kind = "fallback";
  d.text = std::string(k_fallback_text);
  return d;
}

example_report check_examples(const router& r, const snapshot& snap) {
  example_report rep;
  if (!snap.rules) return rep;
  std::mt19937_64 rng(1);
  for (const intent& in : snap.rules->intents()) {
    const auto fresh = [&] {
      dialog_state s;
      for (const auto& k : in.requires_context) s.context[k] = {"1", r.config().context_ttl + 1};
      return s;
    };
    const auto routed = [&](const decision& d) {
      return (d.kind == decision_kind::answer || d.kind == decision_kind::handoff) &&
             d.source_kind == "intent" && d.source_id == in.id;
    };
    const auto describe = [](const decision& d) {
      std::string out = std::string(decision_name(d.kind));
      if (!d.source_id.empty()) out += " " + d.source_id;
      char buf[32];
      std::snprintf(buf, sizeof buf, " %.2f", d.confidence);
      return out + buf;
    };
    for (const auto& ex : in.examples) {
      ++rep.examples;
      auto s = fresh();
      const decision d = r.route(ex.text, s, snap, rng);
      if (routed(d)) {
        ++rep.passed;
      } else {
        rep.failures.push_back({ex.loc.str() + ": example '" + ex.text + "' of '" + in.id +
                                "' does not route to it (got " + describe(d) + ")"});
      }
    }
    for (const auto& ex : in.not_examples) {
      ++rep.examples;
      auto s = fresh();
      const decision d = r.route(ex.text, s, snap, rng);
      if (!routed(d)) {
        ++rep.passed;
      } else {
        rep.failures.push_back({ex.loc.str() + ": not_example '" + ex.text + "' routes to '" + in.id +
                                "' (" + describe(d) + ")"});
      }
    }
  }
  return rep;
}

}  // namespace bot::dialog
