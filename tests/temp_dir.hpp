// temp_dir: a fresh folder under the system temp directory, removed with
// everything in it when the object goes. For tests and benchmarks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace bot::testing {

class temp_dir {
 public:
  // `tag` goes into the folder name, to tell leftovers apart.
  explicit temp_dir(const std::string& tag = "sb-test") {
    std::random_device rd;
    std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
    path_ = std::filesystem::temp_directory_path() / (tag + "-" + std::to_string(gen()));
    std::filesystem::create_directories(path_);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

  // Writes `text` (bytes as given) to `name`, creating sub-folders; returns
  // the full path.
  std::string write(const std::string& name, const std::string& text) const {
    const std::filesystem::path p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace bot::testing
