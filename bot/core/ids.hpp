// Random identifiers. Thread-safe: each thread draws from its own generator,
// seeded from std::random_device (the OS's entropy source).
#pragma once

#include <cstddef>
#include <string>

namespace bot::core {

// `bytes` random bytes from the OS entropy source, as lower-case hex.
std::string random_hex(std::size_t bytes);

// A new conversation id: "c_" and 128 random bits in hex.
std::string new_conversation_id();

}  // namespace bot::core
