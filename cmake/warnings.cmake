# Warnings for our own targets only (never for system headers): link
# bot_warnings PRIVATE into every target the project defines.
add_library(bot_warnings INTERFACE)
target_compile_options(bot_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wformat=2
  -Wimplicit-fallthrough -Werror
  # GCC 12 reports false -Wrestrict positives inside std::string's operator+
  # at -O2 (GCC bug 105329).
  -Wno-restrict)
