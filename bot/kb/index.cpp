#include "bot/kb/index.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <map>
#include <memory_resource>
#include <numeric>
#include <random>
#include <thread>
#include <exception>
#include <unordered_map>
#include <unordered_set>

#include "bot/store/sqlite.hpp"

namespace bot::kb {
namespace {

using sparse = std::vector<feature>;

// A map from feature ids (64-bit hashes, already well mixed) to values,
// filled at build time and then only read: open addressing with linear
// probing in a power-of-two table at most half full, so that a lookup reads
// one or two adjacent slots where a node-based map follows a pointer to a
// node of its own. A search looks up every feature of the message.
template <typename V>
class id_map {
 public:
  // The value for `id`, value-initialised when it is new.
  V& operator[](std::uint64_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    slot& sl = slots_[find_slot(id)];
    if (!sl.used) {
      sl = {id, V{}, true};
      ++size_;
    }
    return sl.value;
  }
  // Inserts (id, value) unless id is there; the stored value and whether it
  // was inserted.
  std::pair<V*, bool> try_emplace(std::uint64_t id, V value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    slot& sl = slots_[find_slot(id)];
    if (sl.used) return {&sl.value, false};
    sl = {id, value, true};
    ++size_;
    return {&sl.value, true};
  }
  const V* find(std::uint64_t id) const {
    if (size_ == 0) return nullptr;
    const slot& sl = slots_[find_slot(id)];
    return sl.used ? &sl.value : nullptr;
  }
  bool contains(std::uint64_t id) const { return find(id) != nullptr; }
  std::size_t size() const { return size_; }

 private:
  struct slot {
    std::uint64_t id = 0;
    V value{};
    bool used = false;
  };
  std::size_t find_slot(std::uint64_t id) const {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
    while (slots_[i].used && slots_[i].id != id) i = (i + 1) & mask;
    return i;
  }
  void grow() {
    std::vector<slot> old(std::max<std::size_t>(16, slots_.size() * 2));
    old.swap(slots_);
    for (const slot& sl : old) {
      if (sl.used) slots_[find_slot(sl.id)] = sl;
    }
  }
  std::vector<slot> slots_;
  std::size_t size_ = 0;
};

// A term of the nearest-variant index and its weight in a vector.
struct term_weight {
  std::uint32_t term;
  float value;
};

struct sample {
  int article = 0;
  sparse x;  // model features (tf-idf, L2-normalised)
  sparse q;  // nearest-variant features (word tf-idf, L2-normalised)
  std::vector<term_weight> terms;  // q as index terms, in q's order
  std::string text;
};

float idf_of(std::size_t docs, int df) {
  return static_cast<float>(std::log((static_cast<double>(docs) + 1.0) / (df + 1.0)) + 1.0);
}

template <typename Features>
void normalise(Features& v) {
  double sum = 0;
  for (const auto& f : v) sum += double(f.value) * f.value;
  if (sum <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (auto& f : v) f.value *= inv;
}

// A linear model: hashed (feature, article) weights and a bias per article.
struct model {
  std::vector<float> weights;
  std::vector<float> bias;
};

// An article near a message: its best cosine to one of its variants, and
// that variant.
struct near {
  int article;
  float sim;
  std::uint32_t sample;
};

// One thread's working space for nearest-variant lookups. Between lookups
// `acc` is all 0 and `where`/`where_kept` are all -1. Aligned to a cache
// line: the scratch of two threads must not share one.
struct alignas(64) knn_scratch {
  std::vector<float> acc;               // cosine per sample
  std::vector<std::uint32_t> touched;   // samples whose acc is not 0
  std::vector<std::int32_t> where;      // article -> its position in a list being built, -1 when none
  std::vector<std::int32_t> where_kept;  // the same for a second list built in the same pass
  std::vector<near> best, best_kept;     // the lists being built (every article met)
  std::vector<std::int32_t> position;    // term -> its position in the vector looked up, -1 when absent
  std::vector<float> value;              // a variant's value of each term looked up
  std::vector<float> sims;               // kth_best()'s working copy
  struct cursor {
    std::size_t j;     // the term's position in the vector looked up
    std::size_t next;  // its first unread posting
  };
  std::vector<cursor> cursors;  // lookup()'s long posting lists
};

// Adds a variant's cosine to `out`, keeping each article's best (a dense
// article table instead of a hash map: one allocation per article touched
// dominated the build).
void keep_best(std::vector<near>& out, std::vector<std::int32_t>& where, const near& n) {
  std::int32_t& w = where[static_cast<std::size_t>(n.article)];
  if (w < 0) {
    w = static_cast<std::int32_t>(out.size());
    out.push_back(n);
  } else if (n.sim > out[static_cast<std::size_t>(w)].sim) {
    out[static_cast<std::size_t>(w)] = n;
  }
}

// The `k` best of `out`, best first; resets `where`. (sim, article) is a
// strict total order: the result does not depend on the order articles were
// met in.
void finish_best(std::vector<near>& out, std::vector<std::int32_t>& where, std::size_t k) {
  for (const auto& n : out) where[static_cast<std::size_t>(n.article)] = -1;
  const auto by_sim = [](const near& l, const near& r) { return l.sim != r.sim ? l.sim > r.sim : l.article < r.article; };
  if (out.size() > k) {
    std::partial_sort(out.begin(), out.begin() + static_cast<long>(k), out.end(), by_sim);
    out.resize(k);
  } else {
    std::sort(out.begin(), out.end(), by_sim);
  }
}

// Runs work(i, worker) for every i in [0, n) on up to `threads` threads (the
// caller's included); worker < threads numbers the thread, which takes every
// threads-th block of `block` consecutive i. Work items must be independent;
// the first exception is rethrown here once all threads have finished.
template <typename F>
void for_each_index(std::size_t n, int threads, std::size_t block, const F& work) {
  const std::size_t blocks = (n + block - 1) / block;
  const std::size_t t = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), 1, std::max<std::size_t>(blocks, 1));
  std::vector<std::exception_ptr> errors(t);
  const auto slice = [&](std::size_t first) {
    try {
      for (std::size_t b = first; b < blocks; b += t) {
        for (std::size_t i = b * block; i < std::min(n, (b + 1) * block); ++i) work(i, first);
      }
    } catch (...) {
      errors[first] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t first = 1; first < t; ++first) pool.emplace_back(slice, first);
  slice(0);
  for (auto& th : pool) th.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace

struct kb_index::impl {
  kb_options opt;
  analyzer an;
  id_map<float> idf_word, idf_char;
  id_map<char> knn_skip;  // stop-word unigrams: too common to index
  std::vector<sample> samples;
  std::vector<std::int32_t> article_of;  // samples[i].article, packed: the lookups read it per hit
  // The nearest-variant index: term -> (variant, value), by variant.
  id_map<std::uint32_t> knn_terms;  // feature id -> term
  std::vector<std::vector<std::pair<std::uint32_t, float>>> postings;
  std::size_t common_postings = 0;  // lists longer than this are read last (lookup())
  std::vector<std::unordered_set<std::string>> article_stems;
  model trained;
  std::vector<double> calibration;  // confidence per probability bin
  std::size_t held_out = 0;
  std::uint64_t mask = 0;
  std::map<std::string, std::size_t, std::less<>> by_id;
  mutable std::mutex fts_mu;
  std::unique_ptr<store::sqlite::db> fts;

  std::size_t slot(std::uint64_t f, int article) const {
    std::uint64_t h = f ^ (static_cast<std::uint64_t>(article) + 1) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 29;
    return static_cast<std::size_t>(h & mask);
  }

  // Model and nearest-variant vectors of analysed text. Features the KB has
  // never seen are dropped (they carry no weight).
  void vectorize(const analyzed& a, sparse& x, sparse& q) const {
    // The counts live in a stack arena: a message has a few hundred
    // features at most, and a node-based map allocates one node per feature.
    std::array<std::byte, 32 * 1024> buffer;
    std::pmr::monotonic_buffer_resource arena(buffer.data(), buffer.size());
    feature_counts words(&arena), chars(&arena);
    analyzer::features_of(a, words, chars);
    x.clear();
    q.clear();
    for (const auto& [id, tf] : words) {
      const float* idf = idf_word.find(id);
      if (idf == nullptr) continue;
      const float v = (1.0f + std::log(tf)) * *idf;
      x.push_back({id, v});
      if (!knn_skip.contains(id)) q.push_back({id, v});
    }
    std::pmr::vector<feature> c(&arena);
    for (const auto& [id, tf] : chars) {
      const float* idf = idf_char.find(id);
      if (idf == nullptr) continue;
      c.push_back({id, (1.0f + std::log(tf)) * *idf});
    }
    normalise(c);
    normalise(x);
    for (auto& f : c) x.push_back({f.id, f.value * opt.char_weight});
    normalise(x);
    normalise(q);
  }

  void prepare(knn_scratch& sc) const {
    if (sc.acc.size() < samples.size()) sc.acc.assign(samples.size(), 0.0f);
    if (sc.where.size() < article_stems.size()) sc.where.assign(article_stems.size(), -1);
    if (sc.where_kept.size() < article_stems.size()) sc.where_kept.assign(article_stems.size(), -1);
    if (sc.position.size() < postings.size()) sc.position.assign(postings.size(), -1);
  }

  // The terms of `q` in the nearest-variant index, in q's order.
  std::vector<term_weight> knn_terms_of(const sparse& q) const {
    std::vector<term_weight> out;
    for (const auto& f : q) {
      if (const std::uint32_t* term = knn_terms.find(f.id)) out.push_back({*term, f.value});
    }
    return out;
  }

  // The articles nearest to a vector with terms `qt` by their variants
  // (each article's best cosine), best first, at most opt.candidates, into
  // sc.best; skips sample `exclude`. With `held`, also the same among the
  // variants not held out, into sc.best_kept.
  //
  // Long posting lists (common word pairs such as "how do") would be most of
  // the work and rarely decide the result. They are sorted by value, highest
  // first, and read only as far as needed (the threshold algorithm): every
  // variant met in a short list or a read part of a long one is scored
  // exactly; a variant not met yet scores at most `bound`, the sum over the
  // long lists of the term's weight times the next unread value, and once
  // that is below the k-th best article met, none can enter the list. The
  // lists are exactly those of a full scan, and every cosine is summed in the
  // same order (that of `qt`) whichever way the variant was met.
  void lookup(const std::vector<term_weight>& qt, std::int64_t exclude, const std::vector<char>* held,
              knn_scratch& sc) const {
    const std::size_t k = static_cast<std::size_t>(opt.candidates);
    prepare(sc);
    sc.best.clear();
    sc.best_kept.clear();
    sc.touched.clear();
    sc.value.assign(qt.size(), 0.0f);
    for (std::size_t j = 0; j < qt.size(); ++j) sc.position[qt[j].term] = static_cast<std::int32_t>(j);
    const auto meet = [&](std::uint32_t s) {
      if (sc.acc[s] != 0.0f) return;
      sc.acc[s] = 1.0f;  // a mark: met
      sc.touched.push_back(s);
      if (static_cast<std::int64_t>(s) == exclude) return;
      // Its value of each term of qt (0 when absent: adding +0 changes no sum).
      for (const auto& t : samples[s].terms) {
        const std::int32_t p = sc.position[t.term];
        if (p >= 0) sc.value[static_cast<std::size_t>(p)] = t.value;
      }
      float sim = 0.0f;
      for (std::size_t j = 0; j < qt.size(); ++j) {
        if (sc.value[j] != 0.0f) sim += qt[j].value * sc.value[j];
        sc.value[j] = 0.0f;
      }
      keep_best(sc.best, sc.where, {article_of[s], sim, s});
      if (held && !(*held)[s]) keep_best(sc.best_kept, sc.where_kept, {article_of[s], sim, s});
    };
    auto& long_lists = sc.cursors;
    long_lists.clear();
    for (std::size_t j = 0; j < qt.size(); ++j) {
      const auto& list = postings[qt[j].term];
      if (list.size() > common_postings) {
        long_lists.push_back({j, 0});
      } else {
        for (const auto& e : list) meet(e.first);
      }
    }
    for (;;) {
      float bound = 0.0f, top = -1.0f;
      knn_scratch::cursor* read = nullptr;
      for (auto& c : long_lists) {
        const auto& list = postings[qt[c.j].term];
        if (c.next >= list.size()) continue;
        const float b = qt[c.j].value * list[c.next].second;
        bound += b;
        if (b > top) {
          top = b;
          read = &c;
        }
      }
      if (read == nullptr || bound < kth_best(held ? sc.best_kept : sc.best, k, sc)) break;
      // Read on in the list that bounds most, twice as far as before.
      const auto& list = postings[qt[read->j].term];
      const std::size_t end = std::min(list.size(), read->next + std::max<std::size_t>(32, read->next));
      for (; read->next < end; ++read->next) meet(list[read->next].first);
    }
    for (std::uint32_t s : sc.touched) sc.acc[s] = 0.0f;
    for (const auto& t : qt) sc.position[t.term] = -1;
    finish_best(sc.best, sc.where, k);
    if (held) finish_best(sc.best_kept, sc.where_kept, k);
  }

  // The k-th best similarity in `list` (one entry per article), -1 when it
  // has fewer than k.
  static float kth_best(const std::vector<near>& list, std::size_t k, knn_scratch& sc) {
    if (k == 0 || list.size() < k) return -1.0f;
    sc.sims.clear();
    for (const auto& n : list) sc.sims.push_back(n.sim);
    std::nth_element(sc.sims.begin(), sc.sims.begin() + static_cast<long>(k - 1), sc.sims.end(), std::greater<>());
    return sc.sims[k - 1];
  }

  // The articles with the variants nearest to `q`, best first, at most opt.candidates.
  std::vector<near> nearest(const sparse& q) const {
    thread_local knn_scratch sc;
    lookup(knn_terms_of(q), -1, nullptr, sc);
    return sc.best;
  }

  // For every variant, the articles nearest to it by their other variants:
  // `all` among every other variant (the final training) and, when `held`
  // marks variants, `kept` among those not held out (the calibration run, and
  // the ranking of the held-out ones). Variants are independent: they are
  // split over opt.build_threads threads and the lists are the same whatever
  // the split.
  void candidate_lists(const std::vector<char>& held, bool any_held, std::vector<std::vector<near>>& all,
                       std::vector<std::vector<near>>& kept) const {
    all.assign(samples.size(), {});
    kept.assign(any_held ? samples.size() : 0, {});
    std::vector<knn_scratch> scratch(static_cast<std::size_t>(std::max(opt.build_threads, 1)));
    for_each_index(samples.size(), opt.build_threads, 256, [&](std::size_t i, std::size_t worker) {
      knn_scratch& sc = scratch[worker];
      std::vector<term_weight> qt(samples[i].terms.begin(), samples[i].terms.end());
      lookup(qt, static_cast<std::int64_t>(i), any_held ? &held : nullptr, sc);
      all[i].assign(sc.best.begin(), sc.best.end());
      if (any_held) kept[i].assign(sc.best_kept.begin(), sc.best_kept.end());
    });
  }

  // Articles scored for a message with its nearest articles `near_list`
  // (all articles when there are no more than opt.candidates), with
  // probabilities, best first.
  struct scored {
    int article;
    float score;
    float sim;
    std::int64_t sample;  // nearest variant, -1 when none shares a word
    double p;
  };
  std::vector<scored> rank(const model& m, const sparse& x, const std::vector<near>& near_list) const {
    const std::size_t k = static_cast<std::size_t>(opt.candidates);
    const std::size_t n_articles = article_stems.size();
    std::vector<scored> out;
    if (n_articles <= k) {
      for (std::size_t a = 0; a < n_articles; ++a) out.push_back({static_cast<int>(a), 0, 0, -1, 0});
      for (const auto& n : near_list) out[static_cast<std::size_t>(n.article)] = {n.article, 0, n.sim, n.sample, 0};
    } else {
      for (const auto& n : near_list) out.push_back({n.article, 0, n.sim, n.sample, 0});
    }
    if (out.empty()) return out;
    // The weight slots of every (candidate, feature) pair first, prefetched:
    // the weights are a table of 2^weight_bits floats, and each read is a
    // cache miss.
    thread_local std::vector<std::size_t> slots;
    const std::size_t nx = x.size();
    slots.resize(out.size() * nx);
    for (std::size_t j = 0; j < out.size(); ++j) {
      for (std::size_t t = 0; t < nx; ++t) {
        const std::size_t sl = slot(x[t].id, out[j].article);
        slots[j * nx + t] = sl;
        __builtin_prefetch(&m.weights[sl]);
      }
    }
    float mx = -1e30f;
    for (std::size_t j = 0; j < out.size(); ++j) {
      scored& c = out[j];
      float sc = m.bias[static_cast<std::size_t>(c.article)];
      for (std::size_t t = 0; t < nx; ++t) sc += x[t].value * m.weights[slots[j * nx + t]];
      mx = std::max(mx, c.score = sc + opt.similarity_weight * c.sim);
    }
    double z = 0;
    for (auto& c : out) z += c.p = std::exp(double(c.score - mx));
    // Fewer articles than candidates share a word with the message: the
    // missing ones still compete, at the score of an article with nothing in
    // common (0), so one article sharing one rare word is not sure by default.
    const std::size_t expected = std::min(k, n_articles);
    if (out.size() < expected) z += double(expected - out.size()) * std::exp(double(0.0f - mx));
    for (auto& c : out) c.p /= z;
    std::sort(out.begin(), out.end(),
              [](const scored& l, const scored& r) { return l.score != r.score ? l.score > r.score : l.article < r.article; });
    return out;
  }

  // Training passes for `n` samples: opt.epochs up to k_full_epoch_samples;
  // beyond, each pass already has plenty of steps, so fewer passes (down to
  // 3) keep the build time near linear in the KB size (docs/performance.md:
  // about 1 point of hit@1 lost at 50,000 variants, 2x faster).
  static constexpr std::size_t k_full_epoch_samples = 20000;
  int epochs_for(std::size_t n) const {
    if (n <= k_full_epoch_samples) return opt.epochs;
    const auto scaled = static_cast<int>(static_cast<double>(opt.epochs) * k_full_epoch_samples / static_cast<double>(n));
    return std::min(opt.epochs, std::max(3, scaled));
  }

  // Softmax regression by SGD over the samples `ids` (ascending), each
  // against its nearest competing articles `lists[i]`. Deterministic for a
  // given seed; reads only the samples and their lists.
  model train(const std::vector<std::uint32_t>& ids, const std::vector<std::vector<near>>& lists) const {
    const std::size_t n_articles = article_stems.size();
    model m;
    m.weights.assign(static_cast<std::size_t>(mask) + 1, 0.0f);
    m.bias.assign(n_articles, 0.0f);
    const std::size_t k = static_cast<std::size_t>(opt.candidates);
    struct cand {
      int article;
      float sim;
    };
    std::vector<std::vector<cand>> cands(samples.size());
    for (std::uint32_t i : ids) {
      std::vector<cand>& c = cands[i];
      if (n_articles <= k) {
        for (std::size_t a = 0; a < n_articles; ++a) c.push_back({static_cast<int>(a), 0.0f});
        for (const auto& n : lists[i]) c[static_cast<std::size_t>(n.article)].sim = n.sim;
      } else {
        for (const auto& n : lists[i]) c.push_back({n.article, n.sim});
        if (std::none_of(c.begin(), c.end(), [&](const cand& x) { return x.article == samples[i].article; })) {
          c.push_back({samples[i].article, 0.0f});
        }
      }
    }
    std::vector<std::uint32_t> order = ids;
    std::mt19937_64 rng(opt.seed);
    std::vector<float> s, p;
    // The weight slots of a sample's (feature, candidate) pairs, computed
    // once per step and prefetched: the weight reads are cache misses.
    std::vector<std::size_t> slots;
    const int n_epochs = epochs_for(ids.size());
    for (int epoch = 0; epoch < n_epochs; ++epoch) {
      std::shuffle(order.begin(), order.end(), rng);
      const float lr = 1.0f / (1.0f + 0.5f * static_cast<float>(epoch));
      for (std::uint32_t i : order) {
        const sample& smp = samples[i];
        const auto& c = cands[i];
        const std::size_t nx = smp.x.size();
        slots.resize(c.size() * nx);
        for (std::size_t j = 0; j < c.size(); ++j) {
          for (std::size_t t = 0; t < nx; ++t) {
            const std::size_t sl = slot(smp.x[t].id, c[j].article);
            slots[j * nx + t] = sl;
            __builtin_prefetch(&m.weights[sl]);
          }
        }
        s.resize(c.size());
        p.resize(c.size());
        float mx = -1e30f;
        for (std::size_t j = 0; j < c.size(); ++j) {
          float sc = m.bias[static_cast<std::size_t>(c[j].article)];
          for (std::size_t t = 0; t < nx; ++t) sc += smp.x[t].value * m.weights[slots[j * nx + t]];
          mx = std::max(mx, s[j] = sc + opt.similarity_weight * c[j].sim);
        }
        float z = 0;
        for (std::size_t j = 0; j < c.size(); ++j) z += p[j] = std::exp(s[j] - mx);
        for (std::size_t j = 0; j < c.size(); ++j) {
          const float g = p[j] / z - (c[j].article == smp.article ? 1.0f : 0.0f);
          if (std::fabs(g) < 1e-4f) continue;
          const float step = lr * g;
          m.bias[static_cast<std::size_t>(c[j].article)] -= 0.1f * step;
          for (std::size_t t = 0; t < nx; ++t) m.weights[slots[j * nx + t]] -= step * smp.x[t].value;
        }
      }
    }
    return m;
  }

  // The variants held out to calibrate confidence: every fifth variant of
  // an article with at least four (its title and at least two variants stay
  // in training).
  std::vector<char> hold_out() const {
    std::vector<std::size_t> count_per_article(article_stems.size(), 0), seen(article_stems.size(), 0);
    for (const auto& smp : samples) ++count_per_article[static_cast<std::size_t>(smp.article)];
    std::vector<char> held(samples.size(), 0);
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const auto a = static_cast<std::size_t>(samples[i].article);
      if (count_per_article[a] >= 4 && ++seen[a] % 5 == 0) held[i] = 1;
    }
    return held;
  }

  // Confidence calibration from the KB itself: a model trained without the
  // held-out variants (`held`; `kept` are their candidate lists without the
  // held-out variants) ranks them; the share it gets right at each
  // probability becomes the confidence for that probability (binned,
  // smoothed towards the probability itself, made monotone).
  void calibrate(const std::vector<char>& held, const std::vector<std::vector<near>>& kept) {
    std::vector<std::uint32_t> train_ids, held_ids;
    for (std::size_t i = 0; i < samples.size(); ++i) (held[i] ? held_ids : train_ids).push_back(static_cast<std::uint32_t>(i));
    constexpr std::size_t bins = 20;
    std::vector<double> right(bins, 0), total(bins, 0);
    if (held_ids.size() >= 20) {
      const model m = train(train_ids, kept);
      for (std::uint32_t i : held_ids) {
        const auto r = rank(m, samples[i].x, kept[i]);
        if (r.empty()) continue;
        const std::size_t b = std::min(bins - 1, static_cast<std::size_t>(r[0].p * bins));
        total[b] += 1;
        right[b] += r[0].article == samples[i].article ? 1 : 0;
      }
    }
    calibration.assign(bins, 0);
    constexpr double prior = 5;  // pseudo-observations at the probability itself
    for (std::size_t b = 0; b < bins; ++b) {
      const double mid = (double(b) + 0.5) / bins;
      calibration[b] = (right[b] + prior * mid) / (total[b] + prior);
    }
    // Pool adjacent violators: confidence never falls as probability rises.
    std::vector<double> val, wt;
    std::vector<std::size_t> len;
    for (std::size_t b = 0; b < bins; ++b) {
      val.push_back(calibration[b]);
      wt.push_back(total[b] + prior);
      len.push_back(1);
      while (val.size() > 1 && val[val.size() - 2] > val.back()) {
        const double w = wt[wt.size() - 2] + wt.back();
        const double v = (val[val.size() - 2] * wt[wt.size() - 2] + val.back() * wt.back()) / w;
        const std::size_t l = len[len.size() - 2] + len.back();
        val.pop_back();
        wt.pop_back();
        len.pop_back();
        val.back() = v;
        wt.back() = w;
        len.back() = l;
      }
    }
    std::size_t b = 0;
    for (std::size_t g = 0; g < val.size(); ++g) {
      for (std::size_t j = 0; j < len[g]; ++j) calibration[b++] = val[g];
    }
    held_out = held_ids.size();
  }

  // Nearest-variant lists, then the calibration run and the final training
  // (independent: on two threads when opt.build_threads allows).
  void fit() {
    const std::vector<char> held = hold_out();
    const bool any_held = std::count(held.begin(), held.end(), 1) >= 20;
    std::vector<std::vector<near>> all, kept;
    candidate_lists(held, any_held, all, kept);
    std::vector<std::uint32_t> every(samples.size());
    std::iota(every.begin(), every.end(), 0u);
    for_each_index(2, opt.build_threads, 1, [&](std::size_t task, std::size_t) {
      if (task == 0) {
        trained = train(every, all);
      } else if (any_held) {
        calibrate(held, kept);
      } else {
        calibrate(held, all);
      }
    });
  }

  // The calibrated confidence for a top probability (interpolated between bins).
  double calibrated(double p) const {
    const double pos = std::clamp(p * double(calibration.size()) - 0.5, 0.0, double(calibration.size() - 1));
    const auto lo = static_cast<std::size_t>(pos);
    const std::size_t hi = std::min(lo + 1, calibration.size() - 1);
    const double f = pos - double(lo);
    return calibration[lo] * (1 - f) + calibration[hi] * f;
  }
};

kb_index::~kb_index() = default;

core::result<std::shared_ptr<const kb_index>> kb_index::build(kb_files files, const kb_options& options) {
  const auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<kb_index> idx(new kb_index());
  idx->articles_ = std::move(files.articles);
  idx->impl_ = std::make_unique<impl>();
  impl& im = *idx->impl_;
  im.opt = options;
  im.an = analyzer(files.synonyms);
  const auto& arts = idx->articles_;

  // Variants: the title and every question, analysed once.
  std::vector<analyzed> docs;
  for (std::size_t a = 0; a < arts.size(); ++a) {
    im.by_id.emplace(arts[a].id, a);
    const auto add = [&](const std::string& text) {
      docs.push_back(im.an.analyze(text));
      im.an.learn(docs.back());
      sample s;
      s.article = static_cast<int>(a);
      s.text = text;
      im.samples.push_back(std::move(s));
    };
    add(arts[a].title);
    for (const auto& q : arts[a].questions) add(q);
  }
  // Body words join the vocabulary (for typo correction) but not the model.
  im.article_stems.resize(arts.size());
  for (std::size_t a = 0; a < arts.size(); ++a) {
    const analyzed body = im.an.analyze(arts[a].body);
    im.an.learn(body);
    for (const auto& st : body.stems) im.article_stems[a].insert(st);
  }
  for (std::size_t i = 0; i < docs.size(); ++i) {
    for (const auto& st : docs[i].stems) im.article_stems[static_cast<std::size_t>(im.samples[i].article)].insert(st);
  }
  im.an.finish_vocabulary();

  // Document frequencies over the variants.
  std::unordered_map<std::uint64_t, int> df_word, df_char;
  for (const auto& d : docs) {
    feature_counts w, c;
    analyzer::features_of(d, w, c);
    for (const auto& [id, n] : w) ++df_word[id];
    for (const auto& [id, n] : c) ++df_char[id];
  }
  const std::size_t n = docs.size();
  for (const auto& [id, df] : df_word) im.idf_word[id] = idf_of(n, df);
  for (const auto& [id, df] : df_char) im.idf_char[id] = idf_of(n, df);
  for (const auto& d : docs) {
    for (std::size_t i = 0; i < d.words.size(); ++i) {
      if (analyzer::is_stop_word(d.words[i])) im.knn_skip[hash_feature("w", d.stems[i])] = 1;
    }
  }
  for (std::size_t i = 0; i < docs.size(); ++i) {
    im.vectorize(docs[i], im.samples[i].x, im.samples[i].q);
    for (const auto& f : im.samples[i].q) {
      const auto [term, added] = im.knn_terms.try_emplace(f.id, static_cast<std::uint32_t>(im.postings.size()));
      if (added) im.postings.emplace_back();
      im.postings[*term].emplace_back(static_cast<std::uint32_t>(i), f.value);
      im.samples[i].terms.push_back({*term, f.value});
    }
  }
  // Long enough that a lookup reads more of them than of all the others.
  im.common_postings = std::max<std::size_t>(64, im.samples.size() / 256);
  for (auto& list : im.postings) {
    if (list.size() <= im.common_postings) continue;
    std::sort(list.begin(), list.end(), [](const auto& l, const auto& r) { return l.second != r.second ? l.second > r.second : l.first < r.first; });
  }

  im.mask = (std::uint64_t(1) << options.weight_bits) - 1;
  for (const auto& smp : im.samples) im.article_of.push_back(smp.article);
  im.fit();

  // FTS5 over analysed text (synonyms applied), one row per article.
  auto db = store::sqlite::db::open(":memory:", store::sqlite::open_mode::read_write_create);
  if (!db.ok()) return db.error();
  im.fts = std::make_unique<store::sqlite::db>(std::move(db.value()));
  if (auto s = im.fts->exec("CREATE VIRTUAL TABLE kb USING fts5(title, questions, body, tokenize='porter unicode61')");
      !s.ok()) {
    return s;
  }
  {
    auto tx = store::sqlite::transaction::begin(*im.fts);
    if (!tx.ok()) return tx.error();
    auto ins = im.fts->prepare("INSERT INTO kb(rowid, title, questions, body) VALUES (?, ?, ?, ?)");
    if (!ins.ok()) return ins.error();
    const auto joined = [&](const std::string& text) {
      std::string out;
      for (const auto& w : im.an.analyze(text).words) out += w + " ";
      return out;
    };
    for (std::size_t a = 0; a < arts.size(); ++a) {
      std::string qs;
      for (const auto& q : arts[a].questions) qs += joined(q) + "\n";
      auto& st = ins.value();
      st.reset();
      if (auto s = st.bind(1, static_cast<std::int64_t>(a + 1)); !s.ok()) return s;
      if (auto s = st.bind(2, joined(arts[a].title)); !s.ok()) return s;
      if (auto s = st.bind(3, qs); !s.ok()) return s;
      if (auto s = st.bind(4, joined(arts[a].body)); !s.ok()) return s;
      if (auto s = st.run(); !s.ok()) return s;
    }
    if (auto s = tx->commit(); !s.ok()) return s;
  }

  // Training accuracy, for stats (and a sanity check in tests), on at most
  // 2,000 variants spread evenly over the KB.
  std::size_t right = 0, tried = 0;
  const std::size_t step = std::max<std::size_t>(1, im.samples.size() / 2000);
  for (std::size_t i = 0; i < im.samples.size(); i += step, ++tried) {
    const auto& smp = im.samples[i];
    const auto res = idx->search(smp.text, 1);
    if (!res.empty() && res[0].art == &arts[static_cast<std::size_t>(smp.article)]) ++right;
  }
  idx->stats_.articles = arts.size();
  idx->stats_.variants = im.samples.size();
  idx->stats_.synonym_groups = files.synonyms.size();
  idx->stats_.vocabulary = im.idf_word.size();
  idx->stats_.held_out = im.held_out;
  idx->stats_.train_accuracy = tried == 0 ? 0 : double(right) / double(tried);
  idx->stats_.build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return std::shared_ptr<const kb_index>(std::move(idx));
}

const article* kb_index::find(std::string_view id) const {
  const auto it = impl_->by_id.find(id);
  return it == impl_->by_id.end() ? nullptr : &articles_[it->second];
}

std::vector<std::pair<const article*, double>> kb_index::fts_search(std::string_view text, std::size_t limit) const {
  std::vector<std::pair<const article*, double>> out;
  const analyzed a = impl_->an.analyze_query(text);
  std::string query;
  std::unordered_set<std::string> seen;
  for (const auto& w : a.words) {
    if (analyzer::is_stop_word(w) || !seen.insert(w).second) continue;
    std::string quoted = "\"";
    for (char c : w) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    quoted += "\"";
    query += (query.empty() ? "" : " OR ") + quoted;
  }
  if (query.empty() || articles_.empty()) return out;
  std::lock_guard lock(impl_->fts_mu);
  auto st = impl_->fts->cached("SELECT rowid, bm25(kb, 4.0, 2.0, 1.0) AS r FROM kb WHERE kb MATCH ? ORDER BY r LIMIT ?");
  if (!st.ok()) return out;
  auto& s = *st.value();
  if (!s.bind(1, query).ok() || !s.bind(2, static_cast<std::int64_t>(limit)).ok()) return out;
  for (;;) {
    auto r = s.step();
    if (!r.ok() || r.value() == store::sqlite::step_result::done) break;
    const auto row = static_cast<std::size_t>(s.column_int64(0));
    if (row >= 1 && row <= articles_.size()) out.emplace_back(&articles_[row - 1], s.column_double(1));
  }
  return out;
}

std::vector<kb_match> kb_index::search(std::string_view text, std::size_t limit) const {
  const impl& im = *impl_;
  std::vector<kb_match> out;
  if (articles_.empty()) return out;
  const analyzed a = im.an.analyze_query(text);
  sparse x, q;
  im.vectorize(a, x, q);
  if (x.empty()) return out;
  const auto ranked = im.rank(im.trained, x, im.nearest(q));
  if (ranked.empty()) return out;

  // Coverage: the share of the message's content words the KB knows. A
  // message about something else ("overdraft fee") keeps few of its words.
  std::vector<std::string_view> query_stems;  // distinct, sorted
  std::size_t content = 0, known = 0;
  for (std::size_t i = 0; i < a.words.size(); ++i) {
    if (analyzer::is_stop_word(a.words[i])) continue;
    query_stems.push_back(a.stems[i]);
    ++content;
    known += im.an.knows(a.words[i]);
  }
  std::sort(query_stems.begin(), query_stems.end());
  query_stems.erase(std::unique(query_stems.begin(), query_stems.end()), query_stems.end());
  const double coverage = content == 0 ? 1.0 : double(known) / double(content);
  // The top article's confidence: the calibrated chance it is right, on a
  // square-root scale shared with intent rules (docs/routing.md), reduced by
  // the unknown words unless the model is sure. The others follow by their
  // probability relative to the top, so the ambiguity margin compares like
  // with like.
  const double p1 = ranked.front().p;
  const double top_conf =
      std::sqrt(im.calibrated(p1)) * (1.0 - (1.0 - coverage) * (1.0 - p1));
  for (std::size_t j = 0; j < ranked.size() && j < limit; ++j) {
    const auto& r = ranked[j];
    kb_match m;
    m.art = &articles_[static_cast<std::size_t>(r.article)];
    m.probability = r.p;
    m.similarity = r.sim;
    m.coverage = coverage;
    if (r.sample >= 0) m.nearest = im.samples[static_cast<std::size_t>(r.sample)].text;
    m.calibrated = im.calibrated(r.p);
    m.confidence = p1 > 0 ? top_conf * r.p / p1 : 0.0;
    for (const auto st : query_stems) {
      if (im.article_stems[static_cast<std::size_t>(r.article)].count(std::string(st))) m.terms.emplace_back(st);
    }
    m.corrected = a.corrected;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace bot::kb
