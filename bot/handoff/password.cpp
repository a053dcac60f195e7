#include "bot/handoff/password.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace bot::handoff {
namespace {

constexpr std::string_view k_scheme = "pbkdf2-sha256";
constexpr std::size_t k_salt_bytes = 16;
constexpr std::size_t k_hash_bytes = 32;

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
  if (hex.size() % 2 != 0) return false;
  const auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = val(hex[i]), lo = val(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return true;
}

bool derive(std::string_view password, const unsigned char* salt, std::size_t salt_len,
            int iterations, unsigned char* out, std::size_t out_len) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt,
                           static_cast<int>(salt_len), iterations, EVP_sha256(),
                           static_cast<int>(out_len), out) == 1;
}

void random_bytes(unsigned char* p, std::size_t n) {
  if (RAND_bytes(p, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}

}  // namespace

core::result<std::string> hash_password(std::string_view password, int iterations) {
  if (password.empty()) return core::invalid_argument("the password is empty");
  if (password.size() > k_max_password_bytes) {
    return core::invalid_argument("the password is longer than " +
                                  std::to_string(k_max_password_bytes) + " bytes");
  }
  if (iterations < k_min_iterations || iterations > k_max_iterations) {
    return core::invalid_argument("iterations must be " + std::to_string(k_min_iterations) +
                                  " to " + std::to_string(k_max_iterations));
  }
  unsigned char salt[k_salt_bytes];
  unsigned char hash[k_hash_bytes];
  random_bytes(salt, sizeof salt);
  if (!derive(password, salt, sizeof salt, iterations, hash, sizeof hash)) {
    return core::internal_error("PBKDF2 failed");
  }
  return std::string(k_scheme) + "$" + std::to_string(iterations) + "$" +
         to_hex(salt, sizeof salt) + "$" + to_hex(hash, sizeof hash);
}

bool verify_password(std::string_view password, std::string_view stored) {
  if (password.empty() || password.size() > k_max_password_bytes) return false;
  // scheme $ iterations $ salt $ hash
  std::string_view parts[4];
  for (int i = 0; i < 3; ++i) {
    const auto d = stored.find('$');
    if (d == std::string_view::npos) return false;
    parts[i] = stored.substr(0, d);
    stored.remove_prefix(d + 1);
  }
  parts[3] = stored;
  if (parts[0] != k_scheme) return false;
  int iterations = 0;
  const auto [end, ec] =
      std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
  if (ec != std::errc{} || end != parts[1].data() + parts[1].size()) return false;
  if (iterations < k_min_iterations || iterations > k_max_iterations) return false;
  std::vector<unsigned char> salt, expected;
  if (!from_hex(parts[2], salt) || salt.empty() || !from_hex(parts[3], expected) ||
      expected.size() != k_hash_bytes) {
    return false;
  }
  unsigned char got[k_hash_bytes];
  if (!derive(password, salt.data(), salt.size(), iterations, got, sizeof got)) return false;
  return CRYPTO_memcmp(got, expected.data(), k_hash_bytes) == 0;
}

std::string generate_password(std::size_t length) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(length);
  while (out.size() < length) {
    unsigned char b[32];
    random_bytes(b, sizeof b);
    for (unsigned char c : b) {
      // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
      if (c < 248 && out.size() < length) out += alphabet[c % alphabet.size()];
    }
  }
  return out;
}

}  // namespace bot::handoff
