// Agent passwords: a slow salted hash (PBKDF2-HMAC-SHA256, OpenSSL), its
// verification, and new random passwords.
//
// A stored hash reads "pbkdf2-sha256$ITERATIONS$SALT$HASH" (salt and hash in
// hex), so the cost can be raised later without invalidating old hashes.
//
// Thread-safety: free functions; safe from any thread. Hashing takes about
// 0.3 s of CPU at the default cost (that is the point): never call it on an
// I/O thread.
#pragma once

#include <string>
#include <string_view>

#include "bot/core/status.hpp"

namespace bot::handoff {

// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
inline constexpr int k_default_iterations = 600000;
// What verify_password accepts from a stored hash (a damaged or hostile
// value must not make one login cost minutes).
inline constexpr int k_min_iterations = 1000;
inline constexpr int k_max_iterations = 10000000;
// Passwords longer than this are refused: hashing cost grows with length.
inline constexpr std::size_t k_max_password_bytes = 1024;

// Hashes `password` with a new random 16-byte salt. invalid_argument for an
// empty or over-long password or iterations outside the bounds above.
core::result<std::string> hash_password(std::string_view password,
                                        int iterations = k_default_iterations);

// Whether `password` matches `stored` (a hash_password result). False for a
// malformed `stored`; the comparison takes the same time whatever matches.
bool verify_password(std::string_view password, std::string_view stored);

// A new random password of `length` letters and digits (about 5.95 bits
// each: 20 characters carry 119 bits).
std::string generate_password(std::size_t length = 20);

}  // namespace bot::handoff
