// CSV (RFC 4180): comma-separated fields, double-quoted fields may hold
// commas, newlines and doubled quotes. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bot::core {

struct csv_row {
  std::vector<std::string> fields;
  int line = 0;  // 1-based line where the record starts
};

struct csv_table {
  std::vector<csv_row> rows;  // including the header row; blank lines skipped
  std::string error;          // "" or e.g. "line 7: unterminated quoted field"
};

csv_table parse_csv(std::string_view text);

}  // namespace bot::core
