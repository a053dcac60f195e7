// Text helpers shared by matching, the KB and the protocol. All functions are
// pure and thread-safe. Input may be any bytes; output is always valid UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bot::core {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// `s` with every ill-formed sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);

// Number of code points (ill-formed bytes count one each).
std::size_t utf8_length(std::string_view s) noexcept;

// `s` without leading and trailing ASCII whitespace.
std::string_view trim(std::string_view s) noexcept;

// True when `s` holds nothing but whitespace (ASCII or Unicode spaces).
bool is_blank(std::string_view s);

// The form rules are matched against: valid UTF-8, lower-cased (ASCII,
// Latin-1, Latin Extended-A, Greek, Cyrillic), typographic quotes, apostrophes
// and dashes folded to ASCII, control characters and Unicode spaces turned
// into spaces, runs of whitespace collapsed to one space, trimmed.
std::string normalize(std::string_view s);

// Words of normalised text: maximal runs of letters, digits and non-ASCII
// code points; ASCII punctuation separates words, except an apostrophe inside
// a word ("don't" stays one word).
std::vector<std::string> words(std::string_view normalized);

// Appends the UTF-8 encoding of code point `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);

}  // namespace bot::core
