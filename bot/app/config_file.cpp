#include "bot/app/config_file.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <set>

extern char** environ;

namespace bot::app {
namespace {

namespace fs = std::filesystem;

std::string where(const std::string& path, const YAML::Mark& m) {
  return path + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": ";
}

bool is_section(std::string_view name) {
  const std::string prefix = std::string(name) + ".";
  for (const auto& k : core::config_keys()) {
    if (k.name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

void walk(const std::string& path, const YAML::Node& map, const std::string& prefix,
          core::config& c, std::vector<std::string>& errors) {
  for (const auto& kv : map) {
    const YAML::Node& key = kv.first;
    const YAML::Node& value = kv.second;
    if (!key.IsScalar()) {
      errors.push_back(where(path, key.Mark()) + "keys must be plain names");
      continue;
    }
    const std::string name = prefix + key.Scalar();
    if (core::find_config_key(name) == nullptr) {
      if (is_section(name)) {
        if (value.IsMap()) {
          walk(path, value, name + ".", c, errors);
        } else if (!value.IsNull()) {
          errors.push_back(where(path, value.Mark()) + name + ": expected a section (a map of keys)");
        }
      } else {
        errors.push_back(where(path, key.Mark()) + "unknown key '" + name + "'");
      }
      continue;
    }
    core::status s;
    if (value.IsScalar()) {
      s = core::set_config_value(c, name, value.Scalar());
    } else if (value.IsSequence()) {
      std::vector<std::string> items;
      bool scalars = true;
      for (const auto& item : value) {
        if (!item.IsScalar()) {
          errors.push_back(where(path, item.Mark()) + name + ": list items must be plain values");
          scalars = false;
          break;
        }
        items.push_back(item.Scalar());
      }
      if (!scalars) continue;
      s = core::set_config_list(c, name, items);
    } else if (value.IsNull()) {
      s = core::invalid_argument(name + ": no value given");
    } else {
      s = core::invalid_argument(name + ": expected a value, not a map");
    }
    if (!s.ok()) errors.push_back(where(path, value.Mark()) + s.message());
  }
}

std::string resolve(const fs::path& base, const std::string& p) {
  if (base.empty() || fs::path(p).is_absolute()) return p;
  return (base / p).lexically_normal().string();
}

}  // namespace

std::vector<std::string> process_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

core::result<core::config> load_config(const config_source& source) {
  core::config c;
  std::string path = source.path;
  std::error_code ec;
  if (path.empty() && fs::exists("supportbot.yaml", ec)) path = "supportbot.yaml";

  std::vector<std::string> errors;
  fs::path base;
  if (!path.empty()) {
    if (!fs::is_regular_file(path, ec)) {
      return core::invalid_argument(path + ": no such config file");
    }
    base = fs::path(path).parent_path();
    YAML::Node root;
    try {
      root = YAML::LoadFile(path);
    } catch (const YAML::ParserException& e) {
      return core::invalid_argument(where(path, e.mark) + e.msg);
    } catch (const YAML::Exception& e) {
      return core::invalid_argument(path + ": " + e.what());
    }
    if (root.IsMap()) {
      walk(path, root, "", c, errors);
    } else if (!root.IsNull()) {
      errors.push_back(where(path, root.Mark()) + "expected a map of settings at the top level");
    }
  }
  if (auto s = core::apply_env_overrides(c, source.environment); !s.ok()) {
    errors.push_back(s.message());
  }
  if (errors.empty()) {
    if (auto s = core::validate_config(c); !s.ok()) {
      errors.push_back((path.empty() ? std::string("config") : path) + ": " + s.message());
    }
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
    return core::invalid_argument(msg);
  }
  c.data_dir = resolve(base, c.data_dir);
  c.intents_dir = resolve(base, c.intents_dir);
  c.kb_dir = resolve(base, c.kb_dir);
  c.web_dir = resolve(base, c.web_dir);
  return c;
}

std::string config_to_yaml(const core::config& c) {
  std::string out;
  std::string section;
  for (const auto& k : core::config_keys()) {
    const std::string_view name = k.name;
    const auto dot = name.find('.');
    const std::string sec = dot == std::string_view::npos ? "" : std::string(name.substr(0, dot));
    const std::string leaf(dot == std::string_view::npos ? name : name.substr(dot + 1));
    if (sec != section) {
      out += "\n" + sec + ":\n";
      section = sec;
    }
    const std::string indent = sec.empty() ? "" : "  ";
    out += indent + "# " + std::string(k.help) + "\n";
    std::string value = core::config_value_text(c, k.name);
    if (k.kind == core::key_kind::string) value = "\"" + value + "\"";
    out += indent + leaf + ": " + value + "\n";
  }
  return out;
}

}  // namespace bot::app
