#include "bot/core/text.hpp"

namespace bot::core {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes one code point at s[i]; returns its length in bytes, or 0 when the
// sequence there is ill-formed (then `cp` is unspecified).
std::size_t decode(std::string_view s, std::size_t i, char32_t& cp) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const std::size_t left = s.size() - i;
  const unsigned char c0 = b(0);
  if (c0 < 0x80) {
    cp = c0;
    return 1;
  }
  const auto cont = [&](std::size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    if (!cont(1)) return 0;
    cp = (char32_t(c0 & 0x1F) << 6) | (b(1) & 0x3F);
    return 2;
  }
  if (c0 >= 0xE0 && c0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    cp = (char32_t(c0 & 0x0F) << 12) | (char32_t(b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return 3;
  }
  if (c0 >= 0xF0 && c0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    cp = (char32_t(c0 & 0x07) << 18) | (char32_t(b(1) & 0x3F) << 12) |
         (char32_t(b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    if (cp < 0x10000 || cp > 0x10FFFF) return 0;
    return 4;
  }
  return 0;
}

bool is_unicode_space(char32_t cp) noexcept {
  return cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF ||
         cp == 0x85;
}

char32_t fold(char32_t cp) noexcept {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp < 0x80) return cp;
  if ((cp >= 0xC0 && cp <= 0xDE) && cp != 0xD7) return cp + 32;  // Latin-1
  if (cp >= 0x100 && cp <= 0x17F && cp != 0x130 && cp != 0x131 && cp != 0x138 && cp != 0x149 &&
      cp != 0x17F) {
    // Latin Extended-A pairs upper/lower as even/odd, shifted at 0x139..0x148
    // and 0x179..0x17E.
    const bool shifted = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
    if (shifted) return (cp % 2 == 1) ? cp + 1 : cp;
    return (cp % 2 == 0) ? cp + 1 : cp;
  }
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 32;  // Greek
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;                  // Cyrillic
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  switch (cp) {
    case 0x2018: case 0x2019: case 0x201B: case 0x2032: case 0x02BC: case 0xFF07:
      return '\'';
    case 0x201C: case 0x201D: case 0x201F: case 0x2033: case 0xFF02:
      return '"';
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015: case 0x2212:
      return '-';
    default:
      return cp;
  }
}

bool is_word_char(char32_t cp) noexcept {
  if (cp >= 0x80) return !is_unicode_space(cp);
  return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_valid_utf8(std::string_view s) noexcept {
  char32_t cp;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = decode(s, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  char32_t cp;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = decode(s, i, cp);
    if (n == 0) {
      append_utf8(out, kReplacement);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::size_t utf8_length(std::string_view s) noexcept {
  std::size_t count = 0;
  char32_t cp;
  for (std::size_t i = 0; i < s.size(); ++count) {
    const std::size_t n = decode(s, i, cp);
    i += n == 0 ? 1 : n;
  }
  return count;
}

std::string_view trim(std::string_view s) noexcept {
  constexpr std::string_view ws = " \t\r\n\f\v";
  const auto first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(ws);
  return s.substr(first, last - first + 1);
}

bool is_blank(std::string_view s) { return normalize(s).empty(); }

namespace {

// normalize() for pure ASCII text, the common case: no decoding needed.
std::string normalize_ascii(std::string_view s) {
  // Written through a pointer into a buffer of the input's size (the output
  // is never longer): no capacity check per byte.
  std::string out(s.size(), '\0');
  char* const begin = out.data();
  char* o = begin;
  bool pending_space = false;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F) {
      pending_space = true;
      continue;
    }
    if (pending_space && o != begin) *o++ = ' ';
    pending_space = false;
    *o++ = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  out.resize(static_cast<std::size_t>(o - begin));
  return out;
}

// True when normalising `s` only lower-cases it: printable ASCII (0x20 to
// 0x7E), no space at either end, no two spaces in a row. Most chat messages
// are; the loops are branch-free so that the compiler vectorises them.
bool only_needs_lowering(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  unsigned bad = 0;
  for (const char ch : s) bad |= (static_cast<unsigned char>(ch) - 0x20u) >= 0x5Fu;
  for (std::size_t i = 1; i < s.size(); ++i) bad |= (s[i] == ' ') & (s[i - 1] == ' ');
  return bad == 0;
}

}  // namespace

std::string normalize(std::string_view s) {
  if (only_needs_lowering(s)) {
    std::string out(s.size(), '\0');
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      out[i] = static_cast<char>(c + ((static_cast<unsigned>(c - 'A') < 26u) << 5));
    }
    return out;
  }
  unsigned char high = 0;
  for (const char ch : s) high |= static_cast<unsigned char>(ch);
  if (high < 0x80) return normalize_ascii(s);
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  char32_t cp;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = decode(s, i, cp);
    if (n == 0) {
      cp = kReplacement;
      n = 1;
    }
    i += n;
    if (cp < 0x20 || cp == 0x7F || is_unicode_space(cp) || (cp >= 0x80 && cp < 0xA0) ||
        cp == 0x200B) {
      pending_space = true;
      continue;
    }
    if (cp == ' ') {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    append_utf8(out, fold(cp));
  }
  return out;
}

std::vector<std::string> words(std::string_view normalized) {
  std::vector<std::string> out;
  std::string cur;
  char32_t cp;
  for (std::size_t i = 0; i < normalized.size();) {
    std::size_t n = decode(normalized, i, cp);
    if (n == 0) {
      cp = kReplacement;
      n = 1;
    }
    const bool apostrophe_inside =
        cp == '\'' && !cur.empty() && i + 1 < normalized.size() &&
        is_word_char(static_cast<unsigned char>(normalized[i + 1]));
    if (is_word_char(cp) || apostrophe_inside) {
      cur.append(normalized.substr(i, n));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
    i += n;
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace bot::core
