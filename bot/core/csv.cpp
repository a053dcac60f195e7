#include "bot/core/csv.hpp"

namespace bot::core {

csv_table parse_csv(std::string_view text) {
  csv_table t;
  csv_row row;
  std::string field;
  int line = 1;
  row.line = 1;
  bool quoted = false, field_started = false;
  const auto end_row = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    field_started = false;
    const bool blank = row.fields.size() == 1 && row.fields[0].find_first_not_of(" \t") == std::string::npos;
    if (!blank) t.rows.push_back(std::move(row));
    row = csv_row{};
  };
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = true;
      field_started = true;
    } else if (c == ',') {
      row.fields.push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (c == '\n') {
      end_row();
      row.line = ++line;
    } else if (c != '\r') {
      field += c;
      field_started = true;
    }
  }
  if (quoted) t.error = "line " + std::to_string(row.line) + ": unterminated quoted field";
  if (field_started || !field.empty() || !row.fields.empty()) end_row();
  return t;
}

}  // namespace bot::core
