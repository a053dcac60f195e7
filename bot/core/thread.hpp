// Names of the server's threads, as `top -H`, `ps -L` and perf show them.
#pragma once

#include <string_view>

namespace bot::core {

// Names the calling thread (at most 15 bytes are kept: the kernel's limit).
// Best effort: a failure leaves the old name.
void set_thread_name(std::string_view name) noexcept;

}  // namespace bot::core
