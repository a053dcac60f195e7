#include "bot/core/ids.hpp"

#include <random>

namespace bot::core {

std::string random_hex(std::size_t bytes) {
  // random_device reads the OS entropy source on Linux; one per thread keeps
  // the call lock-free.
  thread_local std::random_device rd;
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  while (out.size() < bytes * 2) {
    unsigned v = rd();
    for (int k = 0; k < 4 && out.size() < bytes * 2; ++k, v >>= 8) {
      out += digits[(v >> 4) & 0xF];
      out += digits[v & 0xF];
    }
  }
  return out;
}

std::string new_conversation_id() { return "c_" + random_hex(16); }

}  // namespace bot::core
