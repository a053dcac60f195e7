#include "bot/core/status.hpp"

namespace bot::core {

std::string_view errc_name(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid_argument";
    case errc::not_found: return "not_found";
    case errc::conflict: return "conflict";
    case errc::unavailable: return "unavailable";
    case errc::io_error: return "io_error";
    case errc::corrupt: return "corrupt";
    case errc::internal: return "internal";
  }
  return "unknown";
}

std::string status::to_string() const {
  if (ok()) return "ok";
  std::string out(errc_name(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace bot::core
